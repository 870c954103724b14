//! The window itself: the iced application (title, theme, fonts, size limits, icon, app id), and opening it — with
//! one sentence instead of a backtrace when there is no graphical session.

use iced::Theme;

use crate::engine::Error;
use crate::gui::{
    App, Config, DEFAULT_FONT, DEFAULT_SIZE, FONT_BOLD, FONT_ICONS, FONT_ITALIC, FONT_REGULAR,
    MIN_SIZE, Message,
};

/// The app icon as 64×64 RGBA (generated from assets/icons/conda-connect.svg).
const ICON_RGBA: &[u8] = include_bytes!("../../assets/icons/conda-connect-64.rgba");

/// The iced application, shared by `main` and the tests.
pub fn application(
    config: Config,
) -> iced::Application<impl iced::Program<State = App, Message = Message, Theme = Theme>> {
    iced::application(move || App::new(config.clone()), App::update, App::view)
        .title(App::title)
        .subscription(App::subscription)
        .theme(App::theme)
        .font(FONT_REGULAR)
        .font(FONT_BOLD)
        .font(FONT_ICONS)
        .font(FONT_ITALIC)
        .default_font(DEFAULT_FONT)
        .window(window_settings())
}

/// The main window: its size limits, icon and app id.
pub fn window_settings() -> iced::window::Settings {
    iced::window::Settings {
        size: DEFAULT_SIZE,
        min_size: Some(MIN_SIZE),
        icon: iced::window::icon::from_rgba(ICON_RGBA.to_vec(), 64, 64).ok(),
        #[cfg(any(target_os = "linux", target_os = "freebsd"))]
        platform_specific: iced::window::settings::PlatformSpecific {
            application_id: crate::gui::APP_ID.into(),
            ..Default::default()
        },
        ..iced::window::Settings::default()
    }
}

/// Open the window (blocks until it is closed).
///
/// The toolkit panics when the display named by `DISPLAY`/`WAYLAND_DISPLAY` cannot be reached (no X server, a stale
/// variable over ssh); that case becomes one sentence instead of a backtrace. Any other panic is a bug and goes on
/// unwinding with the usual report.
pub fn run(config: Config) -> Result<(), Error> {
    open(|| application(config).run())
}

/// Run an iced application (`run` opens its window and blocks until it closes), with the same one sentence for a
/// window that cannot be opened: shared by the app and the window a broken policy leaves ([`crate::gui::refused`]).
pub fn open(run: impl FnOnce() -> iced::Result) -> Result<(), Error> {
    let outcome = without_event_loop_panic_report(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
    });
    match outcome {
        Ok(result) => result.map_err(|e| {
            tracing::error!(error = %e, "the window could not be opened");
            Error::Refused {
                reason: format!("The desktop app could not open its window ({e})."),
            }
        }),
        Err(payload) if is_event_loop_failure(payload.as_ref()) => {
            tracing::error!(
                detail = panic_text(payload.as_ref()),
                "the display could not be reached"
            );
            Err(Error::Refused {
                reason: "The desktop app could not reach the graphical session (check DISPLAY or WAYLAND_DISPLAY); \
                         every action is also available on the command line: conda-connect --help."
                    .into(),
            })
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// The text a panic carried, when it was a string.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("")
}

/// The toolkit's panic when it cannot create its event loop (iced_winit: "Create event loop: …").
fn is_event_loop_failure(payload: &(dyn std::any::Any + Send)) -> bool {
    panic_text(payload).starts_with("Create event loop")
}

/// Run `f` with the default panic report silenced for the event-loop failure only (it is reported as an error).
fn without_event_loop_panic_report<T>(f: impl FnOnce() -> T) -> T {
    let previous = std::sync::Arc::new(std::panic::take_hook());
    let chained = previous.clone();
    std::panic::set_hook(Box::new(move |info| {
        if !is_event_loop_failure(info.payload()) {
            chained(info);
        }
    }));
    let value = f();
    let _ = std::panic::take_hook();
    if let Ok(previous) = std::sync::Arc::try_unwrap(previous) {
        std::panic::set_hook(previous);
    }
    value
}
