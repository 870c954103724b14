//! Shared view pieces: dialog cards, the modal backdrop, headings, messages.

use iced::widget::{button, center, column, container, mouse_area, opaque, stack, text};
use iced::{Border, Color, Element, Font, Length, Theme, font};

pub const BOLD: Font = Font {
    weight: font::Weight::Bold,
    ..Font::with_name("DejaVu Sans")
};

/// A dialog card of a fixed width.
pub fn card<'a, M: 'a>(content: impl Into<Element<'a, M>>, width: f32) -> Element<'a, M> {
    container(content)
        .padding(24)
        .width(Length::Fixed(width))
        .style(|theme: &Theme| {
            let palette = theme.extended_palette();
            container::Style {
                background: Some(palette.background.base.color.into()),
                border: Border {
                    color: palette.background.strong.color,
                    width: 1.0,
                    radius: 8.0.into(),
                },
                text_color: Some(palette.background.base.text),
                ..container::Style::default()
            }
        })
        .into()
}

/// `content` centred over a dimmed `base`; clicks outside it send `on_blur`.
pub fn modal<'a, M: Clone + 'a>(
    base: impl Into<Element<'a, M>>,
    content: impl Into<Element<'a, M>>,
    on_blur: M,
) -> Element<'a, M> {
    stack![
        base.into(),
        opaque(
            mouse_area(center(opaque(content)).style(|_theme| {
                container::Style {
                    background: Some(
                        Color {
                            a: 0.55,
                            ..Color::BLACK
                        }
                        .into(),
                    ),
                    ..container::Style::default()
                }
            }))
            .on_press(on_blur)
        )
    ]
    .into()
}

pub fn title<'a, M: 'a>(s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    text(s).size(22).font(BOLD).into()
}

pub fn heading<'a, M: 'a>(s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    text(s).size(15).font(BOLD).into()
}

pub fn muted<'a, M: 'a>(s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    text(s).size(13).style(text::secondary).into()
}

pub fn error<'a, M: 'a>(s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    text(s).size(13).style(text::danger).into()
}

/// The default (primary) button of a dialog; disabled when `on_press` is `None`.
pub fn primary<'a, M: Clone + 'a>(label: &'a str, on_press: Option<M>) -> Element<'a, M> {
    button(text(label).size(14))
        .padding([8, 18])
        .style(button::primary)
        .on_press_maybe(on_press)
        .into()
}

pub fn secondary<'a, M: Clone + 'a>(label: &'a str, on_press: Option<M>) -> Element<'a, M> {
    button(text(label).size(14))
        .padding([8, 18])
        .style(button::secondary)
        .on_press_maybe(on_press)
        .into()
}

pub fn link<'a, M: Clone + 'a>(label: &'a str, on_press: M) -> Element<'a, M> {
    button(text(label).size(14))
        .padding([4, 6])
        .style(button::text)
        .on_press(on_press)
        .into()
}

/// A labelled field.
pub fn field<'a, M: 'a>(label: &'a str, input: impl Into<Element<'a, M>>) -> Element<'a, M> {
    column![text(label).size(13), input.into()]
        .spacing(4)
        .into()
}
