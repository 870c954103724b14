//! The app's small design system: a spacing scale, a type scale, colour tokens for both themes (every text/
//! background pair meets WCAG AA, 4.5:1 — see the tests), and the shared view pieces built from them: dialog
//! cards, the modal layer, buttons (each one reachable with Tab, see [`crate::gui::focus`]), banners, the reserved
//! message line and the right-aligned button row. Screens use these instead of raw sizes and colours.

use iced::widget::{button, center, checkbox, column, container, opaque, row, space, stack, text};
use iced::{Background, Border, Color, Element, Font, Length, Theme, color, font};

use crate::gui::focus;
use crate::gui::settings::ThemeChoice;

/// Spacing scale (px): every padding and gap is one of these.
pub mod space_scale {
    pub const XS: f32 = 4.0;
    pub const S: f32 = 8.0;
    pub const M: f32 = 12.0;
    pub const L: f32 = 16.0;
    pub const XL: f32 = 24.0;
}

/// Type scale (px): lists, labels and body text share one size; headings step up.
pub mod type_scale {
    pub const SMALL: f32 = 13.0;
    pub const BODY: f32 = 14.0;
    pub const HEADING: f32 = 16.0;
    pub const APP: f32 = 20.0;
    pub const TITLE: f32 = 22.0;
}

use space_scale as sp;
use type_scale as ty;

/// The height of every button and text field of a form (their baselines line up side by side).
pub const CONTROL_HEIGHT: f32 = 36.0;
/// The height of the small buttons (rows of tables, presets).
pub const SMALL_CONTROL_HEIGHT: f32 = 28.0;

/// A text field at [`CONTROL_HEIGHT`]: body-size text on a fixed line height, with the standard padding.
pub fn input<'a, M: Clone + 'a>(placeholder: &str, value: &str) -> iced::widget::TextInput<'a, M> {
    iced::widget::text_input(placeholder, value)
        .size(ty::BODY)
        .line_height(text::LineHeight::Absolute(iced::Pixels(
            CONTROL_HEIGHT - 2.0 * sp::S,
        )))
        .padding(sp::S)
}

pub const BOLD: Font = Font {
    weight: font::Weight::Bold,
    ..Font::with_name("DejaVu Sans")
};

/// One theme's colours. `*_text` colours are meant to be read on the matching `*_bg`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tokens {
    /// The window background.
    pub background: Color,
    /// Panels and dialog cards.
    pub surface: Color,
    pub text: Color,
    /// Secondary text (hints, counts): still 4.5:1 on both backgrounds.
    pub muted: Color,
    pub border: Color,
    /// Borders of controls (inputs, checkboxes): 3:1 against the surface, as WCAG asks of UI components.
    pub control_border: Color,
    /// Primary buttons and the focus ring.
    pub primary: Color,
    pub primary_hover: Color,
    pub on_primary: Color,
    /// Secondary buttons.
    pub secondary_bg: Color,
    pub secondary_hover: Color,
    pub on_secondary: Color,
    /// Destructive buttons.
    pub danger: Color,
    pub danger_hover: Color,
    pub on_danger: Color,
    /// Text-like links (still drawn as buttons, with an underline colour on hover).
    pub link: Color,
    /// Errors written as text on `surface`.
    pub error_text: Color,
    pub focus: Color,
    pub info_bg: Color,
    pub info_text: Color,
    pub success_bg: Color,
    pub success_text: Color,
    pub warning_bg: Color,
    pub warning_text: Color,
    pub danger_bg: Color,
    pub danger_text: Color,
    /// Every disabled button, whatever its kind: flat, grey and quieter than any enabled one.
    pub disabled_bg: Color,
    pub disabled_text: Color,
}

pub const LIGHT: Tokens = Tokens {
    background: color!(0xeef1f4),
    surface: color!(0xffffff),
    text: color!(0x1a1f24),
    muted: color!(0x515b66),
    border: color!(0xb9c1ca),
    control_border: color!(0x7a8591),
    primary: color!(0x1d6b40),
    primary_hover: color!(0x155232),
    on_primary: color!(0xffffff),
    secondary_bg: color!(0xe3e8ed),
    secondary_hover: color!(0xd3dae1),
    on_secondary: color!(0x1a1f24),
    danger: color!(0xb3261e),
    danger_hover: color!(0x8c1d18),
    on_danger: color!(0xffffff),
    link: color!(0x0b57d0),
    error_text: color!(0xb3261e),
    focus: color!(0x1a73e8),
    info_bg: color!(0xe8f0fe),
    info_text: color!(0x17346b),
    success_bg: color!(0xe3f4e8),
    success_text: color!(0x17402a),
    warning_bg: color!(0xfff3d6),
    warning_text: color!(0x553700),
    danger_bg: color!(0xfde8e6),
    danger_text: color!(0x7a1c16),
    disabled_bg: color!(0xeef1f4),
    disabled_text: color!(0x7d8690),
};

pub const DARK: Tokens = Tokens {
    background: color!(0x121519),
    surface: color!(0x1e2227),
    text: color!(0xe8eaed),
    muted: color!(0xaab2bb),
    border: color!(0x4a525b),
    control_border: color!(0x8a95a0),
    primary: color!(0x1d6b40),
    primary_hover: color!(0x175835),
    on_primary: color!(0xffffff),
    secondary_bg: color!(0x2f353c),
    secondary_hover: color!(0x3a4149),
    on_secondary: color!(0xe8eaed),
    danger: color!(0xb3261e),
    danger_hover: color!(0x951f19),
    on_danger: color!(0xffffff),
    link: color!(0x8ab4f8),
    error_text: color!(0xf4a29b),
    focus: color!(0x8ab4f8),
    info_bg: color!(0x1b2b45),
    info_text: color!(0xcfe0fc),
    success_bg: color!(0x173424),
    success_text: color!(0xcdeed9),
    warning_bg: color!(0x3b2d08),
    warning_text: color!(0xfbe3ad),
    danger_bg: color!(0x3f1917),
    danger_text: color!(0xf9cdc9),
    disabled_bg: color!(0x24292f),
    disabled_text: color!(0x7b848e),
};

pub fn tokens(theme: &Theme) -> &'static Tokens {
    if theme.extended_palette().is_dark {
        &DARK
    } else {
        &LIGHT
    }
}

/// The iced theme of a choice, built from the tokens (iced's own widgets — inputs, checkboxes, scrollbars —
/// derive their colours from this palette).
pub fn theme(choice: ThemeChoice) -> Theme {
    let (name, t) = match choice {
        ThemeChoice::Light => ("conda-connect light", &LIGHT),
        ThemeChoice::Dark => ("conda-connect dark", &DARK),
    };
    let palette = iced::theme::Palette {
        background: t.surface,
        text: t.text,
        primary: t.primary,
        success: t.success_text,
        warning: t.warning_text,
        danger: t.error_text,
    };
    Theme::custom_with_fn(name, palette, move |p| {
        let mut extended = iced::theme::palette::Extended::generate(p);
        // control borders and placeholders from the tokens: the generated ones are too faint
        extended.background.strong.color = t.control_border;
        extended.secondary.base.color = t.muted;
        extended
    })
}

/// WCAG 2 relative luminance of an sRGB colour.
pub fn luminance(c: Color) -> f32 {
    let lin = |v: f32| {
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b)
}

/// WCAG 2 contrast ratio (1..=21).
pub fn contrast(a: Color, b: Color) -> f32 {
    let (la, lb) = (luminance(a), luminance(b));
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

// ------------------------------------------------------------------------------------------------ containers

/// The window background.
pub fn page(theme: &Theme) -> container::Style {
    let colors = tokens(theme);
    container::Style {
        background: Some(colors.background.into()),
        text_color: Some(colors.text),
        ..container::Style::default()
    }
}

/// A panel (the header, the channel and package panels).
pub fn panel(theme: &Theme) -> container::Style {
    let colors = tokens(theme);
    container::Style {
        background: Some(colors.surface.into()),
        text_color: Some(colors.text),
        border: Border {
            color: colors.border,
            width: 1.0,
            radius: 8.0.into(),
        },
        ..container::Style::default()
    }
}

/// A bordered box inside a panel (tables, lists).
pub fn boxed(theme: &Theme) -> container::Style {
    let colors = tokens(theme);
    container::Style {
        background: Some(colors.surface.into()),
        text_color: Some(colors.text),
        border: Border {
            color: colors.border,
            width: 1.0,
            radius: 4.0.into(),
        },
        ..container::Style::default()
    }
}

/// A dialog card of a fixed width.
pub fn card<'a, M: 'a>(content: impl Into<Element<'a, M>>, width: f32) -> Element<'a, M> {
    container(content)
        .padding(sp::XL)
        .width(Length::Fixed(width))
        // no drop shadow: tiny-skia's partial redraws leave a blurred shadow's halo over the card
        .style(panel)
        .into()
}

/// `content` centred over a dimmed `base`. A click outside the card does nothing: it never discards what was
/// typed (Esc or the dialog's own buttons close it). The base takes no keyboard input and no Tab focus.
pub fn modal<'a, M: Clone + 'a>(
    base: impl Into<Element<'a, M>>,
    content: impl Into<Element<'a, M>>,
) -> Element<'a, M> {
    stack![
        focus::inert(base),
        opaque(center(opaque(content)).style(|_theme| container::Style {
            background: Some(Color::from_rgba(0.0, 0.0, 0.0, 0.55).into()),
            ..container::Style::default()
        }))
    ]
    .into()
}

/// What a banner is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Success,
    Warning,
    Danger,
}

fn tone_colors(t: &Tokens, tone: Tone) -> (Color, Color) {
    match tone {
        Tone::Info => (t.info_bg, t.info_text),
        Tone::Success => (t.success_bg, t.success_text),
        Tone::Warning => (t.warning_bg, t.warning_text),
        Tone::Danger => (t.danger_bg, t.danger_text),
    }
}

/// A full-width banner: a message and its buttons (right-aligned).
pub fn banner<'a, M: Clone + 'a>(
    tone: Tone,
    message: impl text::IntoFragment<'a>,
    actions: Vec<Element<'a, M>>,
) -> Element<'a, M> {
    let mut content = row![
        icon(tone_icon(tone), ty::HEADING),
        text(message)
            .size(ty::BODY)
            .width(Length::Fill)
            // a long token or address has no space to wrap at: it wraps mid-word rather than leave the banner
            .wrapping(text::Wrapping::WordOrGlyph)
    ]
    .spacing(sp::M)
    .align_y(iced::Center);
    for a in actions {
        content = content.push(a);
    }
    container(content)
        .padding([sp::S, sp::M])
        .width(Length::Fill)
        .style(move |theme: &Theme| {
            let (bg, fg) = tone_colors(tokens(theme), tone);
            container::Style {
                background: Some(bg.into()),
                text_color: Some(fg),
                border: Border {
                    color: fg.scale_alpha(0.35),
                    width: 1.0,
                    radius: 6.0.into(),
                },
                ..container::Style::default()
            }
        })
        .into()
}

/// A notice over the window: the banner's look, with a shadow-free border so it reads as lying on top.
pub fn toast<'a, M: Clone + 'a>(
    tone: Tone,
    message: impl text::IntoFragment<'a>,
    close: Element<'a, M>,
) -> Element<'a, M> {
    banner(tone, message, vec![close])
}

// ------------------------------------------------------------------------------------------------ icons

/// The icon font (a subset of Lucide; see `assets/fonts/README.md`).
pub const ICON_FONT: Font = Font::with_name("lucide");

/// The app's icons: glyphs of [`ICON_FONT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    Connect,
    Channels,
    Tokens,
    Preferences,
    Refresh,
    Warning,
    Success,
    Info,
    Danger,
    SignOut,
    Search,
    Copy,
    Package,
    /// A setting the organization's policy fixes.
    Lock,
}

impl Icon {
    /// The glyph's code point in the Lucide font.
    pub fn glyph(self) -> char {
        match self {
            Icon::Connect => '\u{e37f}',
            Icon::Channels => '\u{e529}',
            Icon::Tokens => '\u{e4a3}',
            Icon::Preferences => '\u{e154}',
            Icon::Refresh => '\u{e145}',
            Icon::Warning => '\u{e193}',
            Icon::Success => '\u{e226}',
            Icon::Info => '\u{e0f9}',
            Icon::Danger => '\u{e1fe}',
            Icon::SignOut => '\u{e10e}',
            Icon::Search => '\u{e151}',
            Icon::Copy => '\u{e09e}',
            Icon::Package => '\u{e129}',
            Icon::Lock => '\u{e10b}',
        }
    }
}

/// An icon at `size`, in the surrounding text colour.
pub fn icon<'a>(icon: Icon, size: f32) -> iced::widget::Text<'a> {
    text(icon.glyph().to_string())
        .font(ICON_FONT)
        .size(size)
        .line_height(1.0)
}

/// Said under a control the organization's policy fixes: a lock, the words, and where to ask.
pub const MANAGED: &str = "Managed by your organization";

/// The note under a managed control (read-only): a lock icon, [`MANAGED`], and the support address when the policy
/// names one.
pub fn managed_note<'a, M: 'a>(support: Option<&str>) -> Element<'a, M> {
    let words = match support {
        Some(url) => format!("{MANAGED} — ask {url}"),
        None => format!("{MANAGED} — ask your administrator"),
    };
    row![
        icon(Icon::Lock, ty::SMALL).style(muted_text),
        text(words).size(ty::SMALL).style(muted_text)
    ]
    .spacing(sp::XS + 2.0)
    .align_y(iced::Center)
    .into()
}

/// The note at the top of a dialog some of whose settings the policy fixes: which ones, and where to ask.
pub fn managed_note_for<'a, M: 'a>(settings: &[&str], support: Option<&str>) -> Element<'a, M> {
    let ask = match support {
        Some(url) => format!("ask {url}"),
        None => "ask your administrator".into(),
    };
    row![
        icon(Icon::Lock, ty::SMALL).style(muted_text),
        text(format!("{MANAGED}: {} — {ask}", settings.join(", ")))
            .size(ty::SMALL)
            .style(muted_text)
    ]
    .spacing(sp::XS + 2.0)
    .align_y(iced::Center)
    .into()
}

/// A tone's icon in the tone's colour (the marks of a list of checks).
pub fn tone_icon_text<'a, M: 'a>(tone: Tone) -> Element<'a, M> {
    icon(tone_icon(tone), ty::HEADING)
        .style(move |theme: &Theme| text::Style {
            color: Some(tone_colors(tokens(theme), tone).1),
        })
        .into()
}

fn tone_icon(tone: Tone) -> Icon {
    match tone {
        Tone::Info => Icon::Info,
        Tone::Success => Icon::Success,
        Tone::Warning => Icon::Warning,
        Tone::Danger => Icon::Danger,
    }
}

// ------------------------------------------------------------------------------------------------ text

pub fn title<'a, M: 'a>(s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    text(s).size(ty::TITLE).font(BOLD).into()
}

pub fn heading<'a, M: 'a>(s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    text(s).size(ty::HEADING).font(BOLD).into()
}

/// A table's column heading or a field's label.
pub fn label<'a, M: 'a>(s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    text(s).size(ty::SMALL).font(BOLD).into()
}

pub fn body<'a, M: 'a>(s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    text(s).size(ty::BODY).into()
}

/// Body text in a table cell or list.
pub fn cell<'a>(s: impl text::IntoFragment<'a>) -> iced::widget::Text<'a> {
    text(s).size(ty::SMALL)
}

pub fn muted_text(theme: &Theme) -> text::Style {
    text::Style {
        color: Some(tokens(theme).muted),
    }
}

pub fn error_text(theme: &Theme) -> text::Style {
    text::Style {
        color: Some(tokens(theme).error_text),
    }
}

pub fn muted<'a, M: 'a>(s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    text(s).size(ty::SMALL).style(muted_text).into()
}

/// The one error style: danger colour, a warning sign, body size.
pub fn error<'a, M: 'a>(s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    row![
        text("⚠").size(ty::BODY).style(error_text),
        text(s).size(ty::BODY).style(error_text).width(Length::Fill)
    ]
    .spacing(sp::XS + 2.0)
    .into()
}

/// The message line of a dialog: an error, a progress line, or nothing — always the same height, so the
/// buttons below never move under the pointer.
pub fn message_slot<'a, M: 'a>(
    error_message: Option<&'a str>,
    busy: Option<&'a str>,
) -> Element<'a, M> {
    let content: Element<'a, M> = match (error_message, busy) {
        (Some(message), _) => error(message),
        (None, Some(busy_text)) => muted(busy_text),
        (None, None) => space::vertical().height(0).into(),
    };
    // a message longer than the slot scrolls inside it: it never runs under the buttons
    container(iced::widget::scrollable(content).width(Length::Fill))
        .height(Length::Fixed(MESSAGE_SLOT_HEIGHT))
        .width(Length::Fill)
        .align_y(iced::Top)
        .into()
}

/// A vertical scrollbar drawn over the content's reserved right margin ([`SCROLLBAR_ROOM`]), so that columns keep
/// their width whether the bar is there or not.
pub fn overlay_scrollbar() -> iced::widget::scrollable::Direction {
    use iced::widget::scrollable::{Direction, Scrollbar};
    Direction::Vertical(
        Scrollbar::new()
            .width(SCROLLBAR_WIDTH)
            .scroller_width(SCROLLBAR_WIDTH),
    )
}

pub const SCROLLBAR_WIDTH: f32 = 8.0;
/// The right margin a table keeps for [`overlay_scrollbar`].
pub const SCROLLBAR_ROOM: f32 = SCROLLBAR_WIDTH + 4.0;

/// Room for two lines of body text.
pub const MESSAGE_SLOT_HEIGHT: f32 = 40.0;

// ------------------------------------------------------------------------------------------------ buttons

fn filled(bg: Color, hover: Color, fg: Color, status: button::Status) -> button::Style {
    let background = match status {
        button::Status::Hovered | button::Status::Pressed => hover,
        _ => bg,
    };
    button::Style {
        background: Some(Background::Color(background)),
        text_color: fg,
        border: Border {
            radius: 6.0.into(),
            ..Border::default()
        },
        ..button::Style::default()
    }
}

/// One disabled look for every kind of button, in both themes: no colour of its kind, a grey fill, quiet text and a
/// thin border — so a disabled Sign In cannot be mistaken for a pressable one.
fn disabled(colors: &Tokens) -> button::Style {
    button::Style {
        background: Some(Background::Color(colors.disabled_bg)),
        text_color: colors.disabled_text,
        border: Border {
            color: colors.border,
            width: 1.0,
            radius: 6.0.into(),
        },
        ..button::Style::default()
    }
}

pub fn primary_button(theme: &Theme, status: button::Status) -> button::Style {
    let colors = tokens(theme);
    if status == button::Status::Disabled {
        return disabled(colors);
    }
    filled(
        colors.primary,
        colors.primary_hover,
        colors.on_primary,
        status,
    )
}

pub fn secondary_button(theme: &Theme, status: button::Status) -> button::Style {
    let colors = tokens(theme);
    if status == button::Status::Disabled {
        return disabled(colors);
    }
    let mut style = filled(
        colors.secondary_bg,
        colors.secondary_hover,
        colors.on_secondary,
        status,
    );
    style.border = Border {
        color: colors.border,
        width: 1.0,
        radius: 6.0.into(),
    };
    style
}

pub fn danger_button(theme: &Theme, status: button::Status) -> button::Style {
    let colors = tokens(theme);
    if status == button::Status::Disabled {
        return disabled(colors);
    }
    filled(colors.danger, colors.danger_hover, colors.on_danger, status)
}

/// A sortable column heading: text, with a background on hover so it reads as clickable.
pub fn header_button(theme: &Theme, status: button::Status) -> button::Style {
    let colors = tokens(theme);
    button::Style {
        background: matches!(status, button::Status::Hovered | button::Status::Pressed)
            .then(|| Background::Color(colors.secondary_bg)),
        text_color: colors.text,
        border: Border {
            radius: 4.0.into(),
            ..Border::default()
        },
        ..button::Style::default()
    }
}

/// Whether `style` is the primary buttons' (compared by what it draws, not by address).
fn is_primary(style: fn(&Theme, button::Status) -> button::Style) -> bool {
    let theme = Theme::Light;
    style(&theme, button::Status::Active) == primary_button(&theme, button::Status::Active)
}

fn make<'a, M: Clone + 'a>(
    label: impl text::IntoFragment<'a>,
    on_press: Option<M>,
    style: fn(&Theme, button::Status) -> button::Style,
    size: f32,
    padding: [f32; 2],
) -> Element<'a, M> {
    make_with(text(label).size(size).into(), on_press, style, padding)
}

fn make_with<'a, M: Clone + 'a>(
    content: Element<'a, M>,
    on_press: Option<M>,
    style: fn(&Theme, button::Status) -> button::Style,
    padding: [f32; 2],
) -> Element<'a, M> {
    // the primary button is the default one: a dialog without a field opens with the focus on it
    let id = is_primary(style).then(focus::default_button);
    make_with_id(content, on_press, style, padding, id)
}

fn make_with_id<'a, M: Clone + 'a>(
    content: Element<'a, M>,
    on_press: Option<M>,
    style: fn(&Theme, button::Status) -> button::Style,
    padding: [f32; 2],
    id: Option<iced::advanced::widget::Id>,
) -> Element<'a, M> {
    // one height per kind (form buttons line up with text fields), the label centred in it
    let height = if padding[0] >= sp::S {
        CONTROL_HEIGHT
    } else {
        SMALL_CONTROL_HEIGHT
    };
    focus::ring_with_id(
        button(
            container(content)
                .height(Length::Fill)
                .align_y(iced::Center),
        )
        .height(Length::Fixed(height))
        .padding([0.0, padding[1]])
        .style(style)
        .on_press_maybe(on_press.clone()),
        on_press,
        id,
    )
}

/// A button's label with its icon in front.
fn with_icon<'a, M: 'a>(leading: Icon, label: impl text::IntoFragment<'a>) -> Element<'a, M> {
    row![icon(leading, ty::BODY + 1.0), text(label).size(ty::BODY)]
        .spacing(sp::S)
        .align_y(iced::Center)
        .into()
}

/// [`primary`] with an icon before the label (the window's main actions).
pub fn primary_icon<'a, M: Clone + 'a>(
    leading: Icon,
    label: impl text::IntoFragment<'a>,
    on_press: Option<M>,
) -> Element<'a, M> {
    make_with(
        with_icon(leading, label),
        on_press,
        primary_button,
        [sp::S, 16.0],
    )
}

/// A header button: an icon and a label, with an [`Id`](iced::advanced::widget::Id) the focus returns to when the
/// dialog it opened closes.
pub fn header_action<'a, M: Clone + 'a>(
    leading: Icon,
    label: impl text::IntoFragment<'a>,
    on_press: Option<M>,
    id: iced::advanced::widget::Id,
    primary: bool,
) -> Element<'a, M> {
    focus::ring_with_id(
        button(
            container(with_icon(leading, label))
                .height(Length::Fill)
                .align_y(iced::Center),
        )
        .height(Length::Fixed(CONTROL_HEIGHT))
        .padding([0.0, 16.0])
        .style(if primary {
            primary_button
        } else {
            secondary_button
        })
        .on_press_maybe(on_press.clone()),
        on_press,
        Some(id),
    )
}

/// The default (primary) button of a dialog; disabled when `on_press` is `None`.
pub fn primary<'a, M: Clone + 'a>(
    label: impl text::IntoFragment<'a>,
    on_press: Option<M>,
) -> Element<'a, M> {
    make(label, on_press, primary_button, ty::BODY, [sp::S, 18.0])
}

pub fn secondary<'a, M: Clone + 'a>(
    label: impl text::IntoFragment<'a>,
    on_press: Option<M>,
) -> Element<'a, M> {
    make(label, on_press, secondary_button, ty::BODY, [sp::S, 18.0])
}

/// [`secondary`] with an [`Id`](iced::advanced::widget::Id): the focus returns to it when the dialog it opened
/// closes.
pub fn secondary_with_id<'a, M: Clone + 'a>(
    label: impl text::IntoFragment<'a>,
    on_press: Option<M>,
    id: iced::advanced::widget::Id,
) -> Element<'a, M> {
    make_with_id(
        text(label).size(ty::BODY).into(),
        on_press,
        secondary_button,
        [sp::S, 18.0],
        Some(id),
    )
}

pub fn danger<'a, M: Clone + 'a>(
    label: impl text::IntoFragment<'a>,
    on_press: Option<M>,
) -> Element<'a, M> {
    make(label, on_press, danger_button, ty::BODY, [sp::S, 18.0])
}

/// A small secondary button (table rows, presets, Copy).
pub fn small<'a, M: Clone + 'a>(
    label: impl text::IntoFragment<'a>,
    on_press: Option<M>,
) -> Element<'a, M> {
    make(label, on_press, secondary_button, ty::SMALL, [sp::XS, 10.0])
}

/// A small destructive button (table rows).
pub fn small_danger<'a, M: Clone + 'a>(
    label: impl text::IntoFragment<'a>,
    on_press: Option<M>,
) -> Element<'a, M> {
    make(label, on_press, danger_button, ty::SMALL, [sp::XS, 10.0])
}

/// A column heading that sorts the table.
/// `descending`: `None` when the table is not sorted by this column, else its direction (▲ ascending, ▼ descending).
pub fn sort_header<'a, M: Clone + 'a>(
    label: &str,
    descending: Option<bool>,
    on_press: M,
) -> Element<'a, M> {
    let arrow = match descending {
        Some(false) => " ▲",
        Some(true) => " ▼",
        None => "",
    };
    focus::ring_inset(
        button(text(format!("{label}{arrow}")).size(ty::SMALL).font(BOLD))
            .padding([2.0, sp::XS])
            .style(header_button)
            .on_press(on_press.clone()),
        Some(on_press),
    )
}

/// A table's heading cell: one height for every heading, the label centred (the tint is [`headed_table`]'s band).
pub fn head_cell<'a, M: 'a>(content: impl Into<Element<'a, M>>) -> Element<'a, M> {
    // no Fill width: a table sizes a fixed column from its cells, and a column of only Fill cells collapses to nothing
    container(content)
        .height(Length::Fixed(HEAD_HEIGHT))
        .align_y(iced::Center)
        .into()
}

/// A table with its heading row on a tinted band, so the headings read apart from the rows. The band lies under
/// the table (a stack), at the heading row's height and the table's own vertical padding.
pub fn headed_table<'a, M: 'a>(table: impl Into<Element<'a, M>>) -> Element<'a, M> {
    // the table is the base layer (it sizes the stack); the band is pushed under it
    stack![table.into()]
        .push_under(
            container(space::vertical().height(0))
                .width(Length::Fill)
                .height(Length::Fixed(HEAD_HEIGHT + 2.0 * TABLE_PADDING_Y))
                .style(|theme: &Theme| container::Style {
                    background: Some(tokens(theme).background.into()),
                    ..container::Style::default()
                }),
        )
        .into()
}

/// A table's cell padding (iced's table pads every cell by these).
pub const TABLE_PADDING_X: f32 = 8.0;
pub const TABLE_PADDING_Y: f32 = 4.0;

/// The height of a table's heading row.
pub const HEAD_HEIGHT: f32 = 32.0;

/// A table's body cell: a little air above and below, the content centred vertically.
pub fn body_cell<'a, M: 'a>(content: impl Into<Element<'a, M>>) -> Element<'a, M> {
    // no fixed height: a long name wraps to a second line and its row grows with it
    container(content)
        .padding([2.0, 0.0])
        .align_y(iced::Center)
        .into()
}

/// A heading that does not sort: the sortable headings' text, at their padding (the baselines line up).
pub fn plain_heading<'a, M: 'a>(label: impl text::IntoFragment<'a>) -> Element<'a, M> {
    container(text(label).size(ty::SMALL).font(BOLD))
        .padding([2.0, sp::XS])
        .into()
}

/// A checkbox reachable with Tab; Space toggles it.
pub fn check<'a, M: Clone + 'a>(
    checked: bool,
    label: Option<&'a str>,
    on_toggle: impl Fn(bool) -> M + 'a,
) -> Element<'a, M> {
    let activate = on_toggle(!checked);
    let mut control = checkbox(checked).size(16).text_size(ty::BODY);
    if let Some(text) = label {
        control = control.label(text);
    }
    focus::toggle_ring(control.on_toggle(on_toggle), Some(activate))
}

/// A checkbox the organization's policy fixes: shown as it is in force, not focusable, not toggled.
pub fn check_locked<'a, M: 'a>(checked: bool, label: &'a str) -> Element<'a, M> {
    checkbox(checked)
        .label(label)
        .size(16)
        .text_size(ty::BODY)
        .into()
}

/// Buttons aligned to the right edge, the default one last (as GNOME and Navigator place it).
pub fn button_row<'a, M: 'a>(buttons: impl IntoIterator<Item = Element<'a, M>>) -> Element<'a, M> {
    let mut buttons_row = row![space::horizontal().width(Length::Fill)]
        .spacing(sp::S + 2.0)
        .align_y(iced::Center);
    for b in buttons {
        buttons_row = buttons_row.push(b);
    }
    buttons_row.into()
}

/// [`button_row`] with a note on its left (the unsaved-changes warning): the row keeps its place whether the note is
/// there or not, and the note never hides behind an error (those have the message slot above).
pub fn button_row_noted<'a, M: 'a>(
    note: Option<&'a str>,
    buttons: impl IntoIterator<Item = Element<'a, M>>,
) -> Element<'a, M> {
    let left: Element<'a, M> = match note {
        Some(note) => row![icon(Icon::Warning, ty::BODY), text(note).size(ty::SMALL)]
            .spacing(sp::S)
            .align_y(iced::Center)
            .width(Length::Fill)
            .into(),
        None => space::horizontal().width(Length::Fill).into(),
    };
    // the note in the warning colour: it asks something, it is not an error
    let left = container(left).style(|theme: &Theme| container::Style {
        text_color: Some(tokens(theme).warning_text),
        ..container::Style::default()
    });
    let mut buttons_row = row![left.width(Length::Fill)]
        .spacing(sp::S + 2.0)
        .align_y(iced::Center)
        .height(Length::Fixed(BUTTON_ROW_HEIGHT));
    for b in buttons {
        buttons_row = buttons_row.push(b);
    }
    buttons_row.into()
}

/// The height of a row of dialog buttons (a two-line note beside them fits).
pub const BUTTON_ROW_HEIGHT: f32 = 40.0;

/// Copy, which says *Copied ✓* once pressed — at one fixed width, so neither it nor anything beside it moves.
pub fn copy_button<'a, M: Clone + 'a>(
    copied: bool,
    on_press: Option<M>,
    primary: bool,
) -> Element<'a, M> {
    let label = if copied { COPIED } else { "Copy" };
    let (size, height, width) = if primary {
        (ty::BODY, CONTROL_HEIGHT, 120.0)
    } else {
        (ty::SMALL, SMALL_CONTROL_HEIGHT, 88.0)
    };
    focus::ring_with_id(
        button(container(text(label).size(size)).center(Length::Fill))
            .width(Length::Fixed(width))
            .height(Length::Fixed(height))
            .padding(0)
            .style(if primary {
                primary_button
            } else {
                secondary_button
            })
            .on_press_maybe(on_press.clone()),
        on_press,
        primary.then(focus::default_button),
    )
}

/// What a Copy button says once pressed.
pub const COPIED: &str = "Copied ✓";

/// A control with its keyboard shortcut shown on hover.
pub fn shortcut_hint<'a, M: 'a>(control: Element<'a, M>, keys: &'a str) -> Element<'a, M> {
    iced::widget::tooltip(
        control,
        container(text(keys).size(ty::SMALL))
            .padding([sp::XS, sp::S])
            .style(|theme: &Theme| {
                let colors = tokens(theme);
                container::Style {
                    background: Some(colors.text.into()),
                    text_color: Some(colors.surface),
                    border: Border {
                        radius: 4.0.into(),
                        ..Border::default()
                    },
                    ..container::Style::default()
                }
            }),
        iced::widget::tooltip::Position::Bottom,
    )
    .gap(sp::XS)
    .into()
}

/// A labelled field.
pub fn field<'a, M: 'a>(label: &'a str, input: impl Into<Element<'a, M>>) -> Element<'a, M> {
    column![text(label).size(ty::SMALL), input.into()]
        .spacing(sp::XS)
        .into()
}

/// A read-only value (a token, a snippet): full-contrast text in a box, never the greyed disabled look.
/// A value longer than a line (an address, a token) wraps inside the box, mid-word if it has to.
pub fn value_box<'a, M: 'a>(value: impl text::IntoFragment<'a>, size: f32) -> Element<'a, M> {
    container(
        text(value)
            .size(size)
            .font(Font::MONOSPACE)
            .wrapping(text::Wrapping::WordOrGlyph),
    )
    .padding([6.0, sp::S])
    .width(Length::Fill)
    .style(|theme: &Theme| {
        let colors = tokens(theme);
        container::Style {
            background: Some(colors.background.into()),
            text_color: Some(colors.text),
            border: Border {
                color: colors.border,
                width: 1.0,
                radius: 4.0.into(),
            },
            ..container::Style::default()
        }
    })
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(t: &Tokens) -> Vec<(&'static str, Color, Color)> {
        vec![
            ("text on surface", t.text, t.surface),
            ("text on background", t.text, t.background),
            ("muted on surface", t.muted, t.surface),
            ("muted on background", t.muted, t.background),
            ("primary button", t.on_primary, t.primary),
            ("primary button hovered", t.on_primary, t.primary_hover),
            ("secondary button", t.on_secondary, t.secondary_bg),
            (
                "secondary button hovered",
                t.on_secondary,
                t.secondary_hover,
            ),
            ("danger button", t.on_danger, t.danger),
            ("danger button hovered", t.on_danger, t.danger_hover),
            ("link on surface", t.link, t.surface),
            ("error on surface", t.error_text, t.surface),
            ("error on background", t.error_text, t.background),
            ("info banner", t.info_text, t.info_bg),
            ("success banner", t.success_text, t.success_bg),
            ("warning banner", t.warning_text, t.warning_bg),
            ("danger banner", t.danger_text, t.danger_bg),
            ("text on a header hover", t.text, t.secondary_bg),
            ("shortcut tooltip", t.surface, t.text),
        ]
    }

    #[test]
    fn every_text_colour_meets_wcag_aa_in_both_themes() {
        for (theme, t) in [("light", &LIGHT), ("dark", &DARK)] {
            for (what, fg, bg) in pairs(t) {
                let ratio = contrast(fg, bg);
                assert!(ratio >= 4.5, "{theme}: {what} is {ratio:.2}:1");
            }
            // non-text elements (the focus ring, control borders): 3:1 against what they sit on
            assert!(contrast(t.focus, t.surface) >= 3.0, "{theme}: focus ring");
            assert!(
                contrast(t.control_border, t.surface) >= 3.0,
                "{theme}: control border"
            );
        }
    }

    /// A disabled button looks the same whatever its kind, unlike every enabled one, and quieter than any enabled
    /// text — yet still legible (3:1, as for a UI component) in both themes.
    #[test]
    fn disabled_buttons_clearly_look_disabled_in_both_themes() {
        for (name, theme) in [("light", Theme::Light), ("dark", Theme::Dark)] {
            let t = tokens(&theme);
            let kinds: [fn(&Theme, button::Status) -> button::Style; 3] =
                [primary_button, secondary_button, danger_button];
            let off: Vec<button::Style> = kinds
                .iter()
                .map(|k| k(&theme, button::Status::Disabled))
                .collect();
            assert!(
                off.windows(2).all(|w| w[0] == w[1]),
                "{name}: one disabled look"
            );
            for kind in kinds {
                let on = kind(&theme, button::Status::Active);
                let dim = kind(&theme, button::Status::Disabled);
                assert_ne!(on.background, dim.background, "{name}");
                let fill = |s: &button::Style| match s.background {
                    Some(Background::Color(c)) => c,
                    _ => unreachable!(),
                };
                let on_ratio = contrast(on.text_color, fill(&on));
                let dim_ratio = contrast(dim.text_color, fill(&dim));
                assert!(dim_ratio >= 3.0, "{name}: disabled text {dim_ratio:.2}:1");
                assert!(
                    dim_ratio < on_ratio && dim_ratio < 4.5,
                    "{name}: {dim_ratio:.2} vs {on_ratio:.2}"
                );
            }
            assert!(contrast(t.disabled_text, t.surface) >= 3.0, "{name}");
        }
    }

    #[test]
    fn contrast_matches_known_values() {
        assert!((contrast(Color::BLACK, Color::WHITE) - 21.0).abs() < 0.01);
        assert!((contrast(Color::WHITE, Color::WHITE) - 1.0).abs() < 0.001);
        // #777 on white is the classic 4.48:1 just-fail
        let grey = color!(0x777777);
        let ratio = contrast(grey, Color::WHITE);
        assert!(ratio > 4.4 && ratio < 4.5, "{ratio}");
    }

    #[test]
    fn themes_are_built_from_the_tokens() {
        assert!(!theme(ThemeChoice::Light).extended_palette().is_dark);
        assert!(theme(ThemeChoice::Dark).extended_palette().is_dark);
        assert_eq!(tokens(&theme(ThemeChoice::Dark)), &DARK);
        let light = theme(ThemeChoice::Light);
        assert_eq!(
            light.extended_palette().background.strong.color,
            LIGHT.control_border
        );
        assert_eq!(light.extended_palette().secondary.base.color, LIGHT.muted);
    }
}
