//! A headless window whose widget state (focus, scroll offsets, text being edited) lives on between steps, and
//! which runs the widget operations the app's tasks return (focus, scroll) — as the real runtime does. iced_test's
//! `Simulator` starts from a fresh state each time, so focus on open and close is tested here.

use iced::advanced::widget::operation::{Focusable, Outcome, Scrollable, TextInput};
use iced::advanced::widget::{Id, Operation};
use iced::keyboard::{self, key};
use iced::{Event, Pixels, Rectangle, Settings, Size, Task, Vector, mouse};
use iced_test::core::renderer::Headless;
use iced_test::renderer::Renderer;
use iced_test::runtime::{Action, UserInterface, user_interface};

use conda_connect::gui::{self, App, Config, Message};

use crate::common::*;

pub struct Live {
    pub world: World,
    pub app: App,
    pub size: Size,
    renderer: Renderer,
    cache: Option<user_interface::Cache>,
    cursor: mouse::Cursor,
}

fn settings() -> Settings {
    Settings {
        fonts: vec![
            gui::FONT_REGULAR.into(),
            gui::FONT_BOLD.into(),
            gui::FONT_ITALIC.into(),
            gui::FONT_ICONS.into(),
        ],
        default_font: gui::DEFAULT_FONT,
        ..Settings::default()
    }
}

/// A key press and release, with modifiers.
pub fn key_events(k: keyboard::Key, modifiers: keyboard::Modifiers) -> Vec<Event> {
    let physical = keyboard::key::Physical::Unidentified(keyboard::key::NativeCode::Unidentified);
    vec![
        Event::Keyboard(keyboard::Event::KeyPressed {
            key: k.clone(),
            modified_key: k.clone(),
            physical_key: physical,
            location: keyboard::Location::Standard,
            modifiers,
            repeat: false,
            text: None,
        }),
        Event::Keyboard(keyboard::Event::KeyReleased {
            key: k.clone(),
            modified_key: k,
            physical_key: physical,
            location: keyboard::Location::Standard,
            modifiers,
        }),
    ]
}

impl Live {
    pub async fn new(world: World) -> Live {
        Self::with_size(world, gui::DEFAULT_SIZE).await
    }

    pub async fn with_size(world: World, size: Size) -> Live {
        // the fonts go into the process-wide font system: a throwaway simulator loads them
        let _ = iced_test::Simulator::<(), iced::Theme, Renderer>::with_size(
            settings(),
            size,
            iced::widget::text(""),
        );
        let renderer = <Renderer as Headless>::new(gui::DEFAULT_FONT, Pixels(16.0), None)
            .await
            .expect("headless renderer");
        let config = Config {
            engine: world.engine(),
            preset_domain: Some(world.emu.url.clone()),
            login_hint: None,
            note: None,
        };
        let (app, boot) = App::new(config);
        let mut live = Live {
            world,
            app,
            size,
            renderer,
            cache: Some(user_interface::Cache::default()),
            cursor: mouse::Cursor::Unavailable,
        };
        live.settle(boot).await;
        live
    }

    /// Build the interface from the app's current view (with the state kept from before), use it, keep its state.
    fn with_ui<R>(
        &mut self,
        f: impl FnOnce(&mut UserInterface<'_, Message, iced::Theme, Renderer>, &mut Renderer) -> R,
    ) -> R {
        let cache = self.cache.take().unwrap_or_default();
        let mut ui = UserInterface::build(self.app.view(), self.size, cache, &mut self.renderer);
        let out = f(&mut ui, &mut self.renderer);
        self.cache = Some(ui.into_cache());
        out
    }

    /// Run a task and every task its messages produce, applying widget operations to the window.
    pub async fn settle(&mut self, task: Task<Message>) {
        use futures_util::StreamExt;
        let mut queue = vec![task];
        while let Some(task) = queue.pop() {
            let Some(mut stream) = iced_test::runtime::task::into_stream(task) else {
                continue;
            };
            while let Some(action) = stream.next().await {
                match action {
                    Action::Output(message) => queue.push(self.app.update(message)),
                    Action::Widget(operation) => self.operate(operation),
                    _ => {}
                }
            }
        }
    }

    fn operate(&mut self, operation: Box<dyn Operation>) {
        self.with_ui(|ui, renderer| {
            let mut current = Some(operation);
            while let Some(mut operation) = current.take() {
                ui.operate(renderer, operation.as_mut());
                if let Outcome::Chain(next) = operation.finish() {
                    current = Some(next);
                }
            }
        });
    }

    pub async fn send(&mut self, message: Message) {
        let task = self.app.update(message);
        self.settle(task).await;
    }

    /// Feed events to the window; the messages they produce go to the app.
    pub async fn events(&mut self, events: Vec<Event>) {
        let cursor = self.cursor;
        let messages = self.with_ui(|ui, renderer| {
            let mut messages = Vec::new();
            let _ = ui.update(
                &events,
                cursor,
                renderer,
                &mut iced::advanced::clipboard::Null,
                &mut messages,
            );
            messages
        });
        for message in messages {
            self.send(message).await;
        }
    }

    pub async fn key(&mut self, named: key::Named) {
        self.events(key_events(
            keyboard::Key::Named(named),
            keyboard::Modifiers::empty(),
        ))
        .await;
    }

    pub async fn shift_tab(&mut self) {
        self.events(key_events(
            keyboard::Key::Named(key::Named::Tab),
            keyboard::Modifiers::SHIFT,
        ))
        .await;
    }

    /// Ctrl (Cmd on macOS) with a letter.
    pub async fn command(&mut self, letter: &str) {
        self.events(key_events(
            keyboard::Key::Character(letter.into()),
            keyboard::Modifiers::COMMAND,
        ))
        .await;
    }

    pub async fn type_text(&mut self, text: &str) {
        self.events(iced_test::simulator::typewrite(text).collect())
            .await;
    }

    /// Where the first text equal to `text` is laid out.
    pub fn bounds_of(&mut self, text: &str) -> Option<Rectangle> {
        let mut find = TextBounds {
            wanted: text.to_string(),
            found: None,
        };
        self.with_ui(|ui, renderer| ui.operate(renderer, &mut find));
        find.found
    }

    pub fn shows(&mut self, text: &str) -> bool {
        self.bounds_of(text).is_some()
    }

    /// The focused control: its bounds, whether it is a text input, and the texts drawn inside it.
    pub fn focused(&mut self) -> Option<Focused> {
        let mut look = Look::default();
        self.with_ui(|ui, renderer| ui.operate(renderer, &mut look));
        let bounds = look.focused?;
        let texts = look
            .texts
            .iter()
            .filter(|(b, _)| bounds.contains(b.center()))
            .map(|(_, t)| t.clone())
            .collect();
        Some(Focused {
            bounds,
            input: look.focused_is_input,
            texts,
        })
    }

    /// The focused control is inside the window and inside every scrolled area that holds it, as scrolled now.
    pub fn focus_is_in_view(&mut self) -> bool {
        let mut look = Look::default();
        self.with_ui(|ui, renderer| ui.operate(renderer, &mut look));
        let Some(f) = look.focused else { return false };
        let window = Rectangle::with_size(self.size);
        let mut shift = Vector::new(0.0, 0.0);
        for (bounds, content, translation) in &look.scrollables {
            let inside = f.x >= content.x - 0.5
                && f.y >= content.y - 0.5
                && f.x + f.width <= content.x + content.width + 0.5
                && f.y + f.height <= content.y + content.height + 0.5;
            if !inside {
                continue;
            }
            let top = f.y - translation.y;
            if top < bounds.y - 0.5 || top + f.height > bounds.y + bounds.height + 0.5 {
                return false;
            }
            shift += *translation;
        }
        let shown = Rectangle {
            x: f.x - shift.x,
            y: f.y - shift.y,
            ..f
        };
        shown.x >= window.x && shown.y >= window.y && shown.y + shown.height <= window.height
    }
}

impl Live {
    /// How many rows (texts at distinct heights) of the scrolled area that holds `text` are in view.
    pub fn rows_in_view_with(&mut self, text: &str) -> usize {
        let mut look = Look::default();
        self.with_ui(|ui, renderer| ui.operate(renderer, &mut look));
        let Some((target, _)) = look.texts.iter().find(|(_, t)| t == text) else {
            return 0;
        };
        let Some((bounds, content, translation)) = look
            .scrollables
            .iter()
            .rfind(|(_, content, _)| content.contains(target.center()))
        else {
            return 0;
        };
        let mut rows: Vec<i64> = look
            .texts
            .iter()
            .filter(|(b, _)| content.contains(b.center()))
            .filter(|(b, _)| {
                let top = b.y - translation.y;
                top >= bounds.y - 0.5 && top + b.height <= bounds.y + bounds.height + 0.5
            })
            .map(|(b, _)| b.y.round() as i64)
            .collect();
        rows.sort();
        rows.dedup();
        rows.len()
    }

    /// Every control that takes the focus: its bounds and whether it is a text input.
    pub fn controls(&mut self) -> Vec<(Rectangle, bool)> {
        let mut look = Look::default();
        self.with_ui(|ui, renderer| ui.operate(renderer, &mut look));
        look.controls
    }
}

#[derive(Debug, Clone)]
pub struct Focused {
    pub bounds: Rectangle,
    pub input: bool,
    pub texts: Vec<String>,
}

impl Focused {
    pub fn says(&self, text: &str) -> bool {
        self.texts.iter().any(|t| t == text)
    }
}

struct TextBounds {
    wanted: String,
    found: Option<Rectangle>,
}

impl Operation for TextBounds {
    fn traverse(&mut self, operate: &mut dyn FnMut(&mut dyn Operation)) {
        operate(self)
    }
    fn text(&mut self, _id: Option<&Id>, bounds: Rectangle, text: &str) {
        if self.found.is_none() && text == self.wanted {
            self.found = Some(bounds);
        }
    }
}

#[derive(Default)]
struct Look {
    focused: Option<Rectangle>,
    focused_is_input: bool,
    input_bounds: Option<Rectangle>,
    texts: Vec<(Rectangle, String)>,
    scrollables: Vec<(Rectangle, Rectangle, Vector)>,
    controls: Vec<(Rectangle, bool)>,
}

impl Operation for Look {
    fn traverse(&mut self, operate: &mut dyn FnMut(&mut dyn Operation)) {
        operate(self)
    }
    fn text_input(&mut self, _id: Option<&Id>, bounds: Rectangle, _state: &mut dyn TextInput) {
        self.input_bounds = Some(bounds);
    }
    fn focusable(&mut self, _id: Option<&Id>, bounds: Rectangle, state: &mut dyn Focusable) {
        let input = self.input_bounds.take() == Some(bounds);
        self.controls.push((bounds, input));
        if state.is_focused() && self.focused.is_none() {
            self.focused = Some(bounds);
            self.focused_is_input = input;
        }
    }
    fn text(&mut self, _id: Option<&Id>, bounds: Rectangle, text: &str) {
        self.texts.push((bounds, text.to_string()));
    }
    fn scrollable(
        &mut self,
        _id: Option<&Id>,
        bounds: Rectangle,
        content_bounds: Rectangle,
        translation: Vector,
        _state: &mut dyn Scrollable,
    ) {
        self.scrollables.push((bounds, content_bounds, translation));
    }
}
