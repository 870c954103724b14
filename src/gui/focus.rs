//! Keyboard focus for the whole app, built once. iced's buttons and checkboxes have no focus of their own, so:
//!
//! - [`ring`] wraps any control: it joins the Tab order (iced's focus operations, the same ones text inputs answer
//!   to), draws a visible ring while focused, and Space or Enter activates it.
//! - [`scope`] wraps the window: Tab / Shift-Tab cycle through every focusable element (text inputs and rings
//!   alike, wrapping around), Esc is handled before any child sees it (so one Esc closes a dialog even from a
//!   focused text field), and the other keys (Enter, shortcuts) go to the app when no child used them.
//! - [`inert`] wraps the layer under a dialog: it keeps its text visible to the tests but takes no keys and leaves
//!   the Tab order.

use iced::advanced::layout::{self, Layout};
use iced::advanced::renderer::{self, Quad};
use iced::advanced::widget::operation::{Focusable, Operation, Scrollable, TextInput};
use iced::advanced::widget::{Id, Tree, Widget, tree};
use iced::advanced::{Clipboard, Shell, mouse, overlay};
use iced::keyboard::{self, key};
use iced::{Border, Color, Element, Event, Length, Rectangle, Renderer, Size, Theme, Vector};

use crate::gui::style;

/// The methods a wrapper passes unchanged to its one child, `self.content` (whose state is `tree.children[0]`):
/// `delegate_to_content!(size, children, layout, draw, mouse_interaction, overlay)` writes those the wrapper does
/// not do itself.
macro_rules! delegate_to_content {
    ($($part:ident),+) => { $(delegate_to_content!(@ $part);)+ };
    (@ size) => {
        fn size(&self) -> Size<Length> {
            self.content.as_widget().size()
        }

        fn size_hint(&self) -> Size<Length> {
            self.content.as_widget().size_hint()
        }
    };
    (@ children) => {
        fn children(&self) -> Vec<Tree> {
            vec![Tree::new(&self.content)]
        }

        fn diff(&self, tree: &mut Tree) {
            tree.diff_children(std::slice::from_ref(&self.content));
        }
    };
    (@ layout) => {
        fn layout(
            &mut self,
            tree: &mut Tree,
            renderer: &Renderer,
            limits: &layout::Limits,
        ) -> layout::Node {
            self.content
                .as_widget_mut()
                .layout(&mut tree.children[0], renderer, limits)
        }
    };
    (@ draw) => {
        fn draw(
            &self,
            tree: &Tree,
            renderer: &mut Renderer,
            theme: &Theme,
            style: &renderer::Style,
            layout: Layout<'_>,
            cursor: mouse::Cursor,
            viewport: &Rectangle,
        ) {
            self.content.as_widget().draw(
                &tree.children[0],
                renderer,
                theme,
                style,
                layout,
                cursor,
                viewport,
            );
        }
    };
    (@ mouse_interaction) => {
        fn mouse_interaction(
            &self,
            tree: &Tree,
            layout: Layout<'_>,
            cursor: mouse::Cursor,
            viewport: &Rectangle,
            renderer: &Renderer,
        ) -> mouse::Interaction {
            self.content.as_widget().mouse_interaction(
                &tree.children[0],
                layout,
                cursor,
                viewport,
                renderer,
            )
        }
    };
    (@ overlay) => {
        fn overlay<'b>(
            &'b mut self,
            tree: &'b mut Tree,
            layout: Layout<'b>,
            renderer: &Renderer,
            viewport: &Rectangle,
            translation: Vector,
        ) -> Option<overlay::Element<'b, M, Theme, Renderer>> {
            self.content.as_widget_mut().overlay(
                &mut tree.children[0],
                layout,
                renderer,
                viewport,
                translation,
            )
        }
    };
}

// ------------------------------------------------------------------------------------------------ ring

/// A button in the Tab order: Space or Enter sends `on_activate` while it has the focus.
pub fn ring<'a, M: Clone + 'a>(
    content: impl Into<Element<'a, M>>,
    on_activate: Option<M>,
) -> Element<'a, M> {
    ring_with_id(content, on_activate, None)
}

/// [`ring`] with an [`Id`], so that the focus can be put on it ([`focus_on`]).
pub fn ring_with_id<'a, M: Clone + 'a>(
    content: impl Into<Element<'a, M>>,
    on_activate: Option<M>,
    id: Option<Id>,
) -> Element<'a, M> {
    Element::new(Ring {
        content: content.into(),
        on_activate,
        enter: true,
        id,
        inset: false,
    })
}

/// [`ring`] drawn inside the control's own bounds (a table's heading: a ring around it would reach past the
/// area the renderer repaints when the table scrolls, and leave arcs behind).
pub fn ring_inset<'a, M: Clone + 'a>(
    content: impl Into<Element<'a, M>>,
    on_activate: Option<M>,
) -> Element<'a, M> {
    Element::new(Ring {
        content: content.into(),
        on_activate,
        enter: true,
        id: None,
        inset: true,
    })
}

/// The id every default (primary) button carries: a dialog without a field opens with the focus on it.
pub fn default_button() -> Id {
    Id::new("default-button")
}

/// A checkbox or radio button in the Tab order: Space toggles it; Enter stays the dialog's default button.
pub fn toggle_ring<'a, M: Clone + 'a>(
    content: impl Into<Element<'a, M>>,
    on_activate: Option<M>,
) -> Element<'a, M> {
    Element::new(Ring {
        content: content.into(),
        on_activate,
        enter: false,
        id: None,
        inset: false,
    })
}

struct Ring<'a, M> {
    content: Element<'a, M>,
    on_activate: Option<M>,
    /// Enter activates too (buttons), not only Space (toggles).
    enter: bool,
    id: Option<Id>,
    /// The ring inside the bounds rather than around them.
    inset: bool,
}

#[derive(Debug, Default)]
struct RingState {
    focused: bool,
}

impl Focusable for RingState {
    fn is_focused(&self) -> bool {
        self.focused
    }
    fn focus(&mut self) {
        self.focused = true;
    }
    fn unfocus(&mut self) {
        self.focused = false;
    }
}

impl<M: Clone> Widget<M, Theme, Renderer> for Ring<'_, M> {
    delegate_to_content!(size, children, layout, mouse_interaction, overlay);

    fn tag(&self) -> tree::Tag {
        tree::Tag::of::<RingState>()
    }

    fn state(&self) -> tree::State {
        tree::State::new(RingState::default())
    }

    fn draw(
        &self,
        tree: &Tree,
        renderer: &mut Renderer,
        theme: &Theme,
        style: &renderer::Style,
        layout: Layout<'_>,
        cursor: mouse::Cursor,
        viewport: &Rectangle,
    ) {
        self.content.as_widget().draw(
            &tree.children[0],
            renderer,
            theme,
            style,
            layout,
            cursor,
            viewport,
        );
        if self.on_activate.is_some() && tree.state.downcast_ref::<RingState>().focused {
            use iced::advanced::Renderer as _;
            let bounds = layout.bounds();
            // a 2 px ring with a 2 px gap: visible on any button colour (inset: on the control's edge)
            let grow = if self.inset { 0.0 } else { 4.0 };
            renderer.fill_quad(
                Quad {
                    bounds: Rectangle {
                        x: bounds.x - grow,
                        y: bounds.y - grow,
                        width: bounds.width + 2.0 * grow,
                        height: bounds.height + 2.0 * grow,
                    },
                    border: Border {
                        color: style::tokens(theme).focus,
                        width: 2.0,
                        radius: 9.0.into(),
                    },
                    ..Quad::default()
                },
                Color::TRANSPARENT,
            );
        }
    }

    fn operate(
        &mut self,
        tree: &mut Tree,
        layout: Layout<'_>,
        renderer: &Renderer,
        operation: &mut dyn Operation,
    ) {
        let Tree {
            state, children, ..
        } = tree;
        let state = state.downcast_mut::<RingState>();
        if self.on_activate.is_some() {
            operation.focusable(self.id.as_ref(), layout.bounds(), state);
        } else {
            // a disabled control is skipped by Tab (as GTK and Qt skip insensitive widgets)
            state.unfocus();
        }
        operation.traverse(&mut |op| {
            self.content
                .as_widget_mut()
                .operate(&mut children[0], layout, renderer, op)
        });
    }

    fn update(
        &mut self,
        tree: &mut Tree,
        event: &Event,
        layout: Layout<'_>,
        cursor: mouse::Cursor,
        renderer: &Renderer,
        clipboard: &mut dyn Clipboard,
        shell: &mut Shell<'_, M>,
        viewport: &Rectangle,
    ) {
        let state = tree.state.downcast_mut::<RingState>();
        match event {
            // a click elsewhere moves the focus away (as a click into a text field does)
            Event::Mouse(mouse::Event::ButtonPressed(_))
                if state.focused && !cursor.is_over(layout.bounds()) =>
            {
                state.focused = false;
                shell.request_redraw();
            }
            Event::Keyboard(keyboard::Event::KeyPressed {
                key: keyboard::Key::Named(named @ (key::Named::Space | key::Named::Enter)),
                modifiers,
                ..
            }) if state.focused
                && modifiers.is_empty()
                && (self.enter || *named == key::Named::Space) =>
            {
                if let Some(message) = &self.on_activate {
                    shell.publish(message.clone());
                }
                // a focused, disabled control swallows the key rather than letting Enter fall to the default button
                shell.capture_event();
                return;
            }
            _ => {}
        }
        self.content.as_widget_mut().update(
            &mut tree.children[0],
            event,
            layout,
            cursor,
            renderer,
            clipboard,
            shell,
            viewport,
        );
    }
}

// ------------------------------------------------------------------------------------------------ scope

/// The window's keyboard: Tab cycling, Esc first, then `on_key` for keys no child used.
pub fn scope<'a, M: Clone + 'a>(
    content: impl Into<Element<'a, M>>,
    on_escape: Option<M>,
    on_key: impl Fn(&keyboard::Key, keyboard::Modifiers) -> Option<M> + 'a,
) -> Element<'a, M> {
    Element::new(Scope {
        content: content.into(),
        on_escape,
        on_key: Box::new(on_key),
    })
}

type OnKey<'a, M> = Box<dyn Fn(&keyboard::Key, keyboard::Modifiers) -> Option<M> + 'a>;

struct Scope<'a, M> {
    content: Element<'a, M>,
    on_escape: Option<M>,
    on_key: OnKey<'a, M>,
}

/// Move the focus to the next (or previous) focusable element of `content`, wrapping around.
fn cycle<M>(
    content: &mut Element<'_, M>,
    tree: &mut Tree,
    layout: Layout<'_>,
    renderer: &Renderer,
    forward: bool,
) {
    struct Count {
        total: usize,
        focused: Option<usize>,
    }
    impl Operation for Count {
        fn traverse(&mut self, operate: &mut dyn FnMut(&mut dyn Operation)) {
            operate(self)
        }
        fn focusable(&mut self, _id: Option<&Id>, _b: Rectangle, state: &mut dyn Focusable) {
            if state.is_focused() && self.focused.is_none() {
                self.focused = Some(self.total);
            }
            self.total += 1;
        }
    }
    let mut count = Count {
        total: 0,
        focused: None,
    };
    content
        .as_widget_mut()
        .operate(tree, layout, renderer, &mut count);
    if count.total == 0 {
        return;
    }
    let n = count.total;
    let target = match (count.focused, forward) {
        (None, true) => 0,
        (None, false) => n - 1,
        (Some(i), true) => (i + 1) % n,
        (Some(i), false) => (i + n - 1) % n,
    };
    let mut set = FocusAt::new(target);
    content
        .as_widget_mut()
        .operate(tree, layout, renderer, &mut set);
    if let Some(bounds) = set.bounds {
        content
            .as_widget_mut()
            .operate(tree, layout, renderer, &mut Reveal { target: bounds });
    }
}

/// Focus the `target`-th focusable element (and no other); remembers its bounds.
struct FocusAt {
    target: usize,
    current: usize,
    bounds: Option<Rectangle>,
}

impl FocusAt {
    fn new(target: usize) -> FocusAt {
        FocusAt {
            target,
            current: 0,
            bounds: None,
        }
    }
}

impl<T> Operation<T> for FocusAt {
    fn traverse(&mut self, operate: &mut dyn FnMut(&mut dyn Operation<T>)) {
        operate(self)
    }
    fn focusable(&mut self, _id: Option<&Id>, bounds: Rectangle, state: &mut dyn Focusable) {
        if self.current == self.target {
            state.focus();
            self.bounds = Some(bounds);
        } else {
            state.unfocus();
        }
        self.current += 1;
    }
    fn finish(&self) -> iced::advanced::widget::operation::Outcome<T> {
        match self.bounds {
            Some(target) => {
                iced::advanced::widget::operation::Outcome::Chain(Box::new(Reveal { target }))
            }
            None => iced::advanced::widget::operation::Outcome::None,
        }
    }
}

/// Scroll every scrollable that holds `target` so that it is in view, with a margin for the focus ring.
struct Reveal {
    target: Rectangle,
}

/// Room kept around a revealed control: its focus ring is drawn 4 px outside it.
const REVEAL_MARGIN: f32 = 8.0;

impl<T> Operation<T> for Reveal {
    fn traverse(&mut self, operate: &mut dyn FnMut(&mut dyn Operation<T>)) {
        operate(self)
    }
    fn scrollable(
        &mut self,
        _id: Option<&Id>,
        bounds: Rectangle,
        content_bounds: Rectangle,
        translation: Vector,
        state: &mut dyn Scrollable,
    ) {
        let t = self.target;
        let inside = t.x >= content_bounds.x - 0.5
            && t.y >= content_bounds.y - 0.5
            && t.x + t.width <= content_bounds.x + content_bounds.width + 0.5
            && t.y + t.height <= content_bounds.y + content_bounds.height + 0.5;
        if !inside {
            return;
        }
        // the offset along one axis that brings [start, start + size] into [view, view + length]
        let along = |start: f32, size: f32, view: f32, length: f32, offset: f32, room: f32| {
            let (top, bottom) = (start - REVEAL_MARGIN, start + size + REVEAL_MARGIN);
            let new = if top < view + offset {
                top - view
            } else if bottom > view + offset + length {
                bottom - view - length
            } else {
                return None;
            };
            Some(new.clamp(0.0, room.max(0.0)))
        };
        let y = along(
            t.y,
            t.height,
            bounds.y,
            bounds.height,
            translation.y,
            content_bounds.height - bounds.height,
        );
        let x = along(
            t.x,
            t.width,
            bounds.x,
            bounds.width,
            translation.x,
            content_bounds.width - bounds.width,
        );
        if x.is_some() || y.is_some() {
            state.scroll_to(iced::widget::scrollable::AbsoluteOffset { x, y });
        }
    }
}

/// The focus a dialog opens with: its first text field, else its default button, else its first control — and
/// scrolled into view.
pub fn initial<M: Send + 'static>() -> iced::Task<M> {
    iced::advanced::widget::operate(Initial::default()).discard()
}

/// Put the focus on the dialog's default button (its last, when a view has several), even where a field comes
/// first — for a question whose safe answer is that button.
pub fn default_action<M: Send + 'static>() -> iced::Task<M> {
    iced::advanced::widget::operate(Initial {
        button_first: true,
        ..Initial::default()
    })
    .discard()
}

#[derive(Default)]
struct Initial {
    /// The default button wins over the first field.
    button_first: bool,
    current: usize,
    /// A text input reports itself as one (with its bounds), then as a focusable.
    input_bounds: Option<Rectangle>,
    first_input: Option<usize>,
    default_button: Option<usize>,
}

impl Operation for Initial {
    fn traverse(&mut self, operate: &mut dyn FnMut(&mut dyn Operation)) {
        operate(self)
    }
    fn text_input(&mut self, _id: Option<&Id>, bounds: Rectangle, _state: &mut dyn TextInput) {
        self.input_bounds = Some(bounds);
    }
    fn focusable(&mut self, id: Option<&Id>, bounds: Rectangle, _state: &mut dyn Focusable) {
        // (an input under a dialog reports itself as one but not as a focusable: the bounds tell them apart)
        if self.input_bounds.take() == Some(bounds) && self.first_input.is_none() {
            self.first_input = Some(self.current);
        }
        if id == Some(&default_button()) {
            self.default_button = Some(self.current);
        }
        self.current += 1;
    }
    fn finish(&self) -> iced::advanced::widget::operation::Outcome<()> {
        if self.current == 0 {
            return iced::advanced::widget::operation::Outcome::None;
        }
        let target = if self.button_first {
            self.default_button.or(self.first_input)
        } else {
            self.first_input.or(self.default_button)
        };
        let target = target.unwrap_or(0);
        iced::advanced::widget::operation::Outcome::Chain(Box::new(FocusAt::new(target)))
    }
}

/// Put the focus on the control with `id` (when it is there), scrolled into view.
pub fn focus_on<M: Send + 'static>(id: Id) -> iced::Task<M> {
    iced::advanced::widget::operate(FocusId {
        id,
        current: 0,
        found: None,
    })
    .discard()
}

struct FocusId {
    id: Id,
    current: usize,
    found: Option<usize>,
}

impl Operation for FocusId {
    fn traverse(&mut self, operate: &mut dyn FnMut(&mut dyn Operation)) {
        operate(self)
    }
    fn focusable(&mut self, id: Option<&Id>, _bounds: Rectangle, _state: &mut dyn Focusable) {
        if id == Some(&self.id) && self.found.is_none() {
            self.found = Some(self.current);
        }
        self.current += 1;
    }
    fn finish(&self) -> iced::advanced::widget::operation::Outcome<()> {
        match self.found {
            Some(target) => {
                iced::advanced::widget::operation::Outcome::Chain(Box::new(FocusAt::new(target)))
            }
            None => iced::advanced::widget::operation::Outcome::None,
        }
    }
}

impl<M: Clone> Widget<M, Theme, Renderer> for Scope<'_, M> {
    delegate_to_content!(size, children, layout, draw, mouse_interaction, overlay);

    fn operate(
        &mut self,
        tree: &mut Tree,
        layout: Layout<'_>,
        renderer: &Renderer,
        operation: &mut dyn Operation,
    ) {
        self.content
            .as_widget_mut()
            .operate(&mut tree.children[0], layout, renderer, operation);
    }

    fn update(
        &mut self,
        tree: &mut Tree,
        event: &Event,
        layout: Layout<'_>,
        cursor: mouse::Cursor,
        renderer: &Renderer,
        clipboard: &mut dyn Clipboard,
        shell: &mut Shell<'_, M>,
        viewport: &Rectangle,
    ) {
        if let Event::Keyboard(keyboard::Event::KeyPressed {
            key: keyboard::Key::Named(key::Named::Escape),
            ..
        }) = event
            && let Some(message) = &self.on_escape
        {
            shell.publish(message.clone());
            shell.capture_event();
            return;
        }
        self.content.as_widget_mut().update(
            &mut tree.children[0],
            event,
            layout,
            cursor,
            renderer,
            clipboard,
            shell,
            viewport,
        );
        if shell.is_event_captured() {
            return;
        }
        if let Event::Keyboard(keyboard::Event::KeyPressed { key, modifiers, .. }) = event {
            if *key == keyboard::Key::Named(key::Named::Tab)
                && !modifiers.control()
                && !modifiers.alt()
            {
                cycle(
                    &mut self.content,
                    &mut tree.children[0],
                    layout,
                    renderer,
                    !modifiers.shift(),
                );
                shell.capture_event();
                shell.request_redraw();
                return;
            }
            if let Some(message) = (self.on_key)(key, *modifiers) {
                shell.publish(message);
                shell.capture_event();
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------ inert

/// `content` shown but out of reach of the keyboard (the window under a dialog).
pub fn inert<'a, M: 'a>(content: impl Into<Element<'a, M>>) -> Element<'a, M> {
    Element::new(Inert {
        content: content.into(),
    })
}

struct Inert<'a, M> {
    content: Element<'a, M>,
}

/// Forwards every operation except focus: the inert layer is still searchable (tests find its text), but Tab
/// never lands in it.
struct NoFocus<'o> {
    inner: &'o mut dyn Operation,
}

impl Operation for NoFocus<'_> {
    fn traverse(&mut self, operate: &mut dyn FnMut(&mut dyn Operation)) {
        self.inner
            .traverse(&mut |inner| operate(&mut NoFocus { inner }));
    }
    fn container(&mut self, id: Option<&Id>, bounds: Rectangle) {
        self.inner.container(id, bounds);
    }
    fn scrollable(
        &mut self,
        id: Option<&Id>,
        bounds: Rectangle,
        content_bounds: Rectangle,
        translation: Vector,
        state: &mut dyn Scrollable,
    ) {
        self.inner
            .scrollable(id, bounds, content_bounds, translation, state);
    }
    fn focusable(&mut self, _id: Option<&Id>, _bounds: Rectangle, state: &mut dyn Focusable) {
        // under a dialog nothing keeps the focus
        state.unfocus();
    }
    fn text_input(&mut self, id: Option<&Id>, bounds: Rectangle, state: &mut dyn TextInput) {
        self.inner.text_input(id, bounds, state);
    }
    fn text(&mut self, id: Option<&Id>, bounds: Rectangle, text: &str) {
        self.inner.text(id, bounds, text);
    }
    fn custom(&mut self, id: Option<&Id>, bounds: Rectangle, state: &mut dyn std::any::Any) {
        self.inner.custom(id, bounds, state);
    }
}

impl<M> Widget<M, Theme, Renderer> for Inert<'_, M> {
    delegate_to_content!(size, children, layout, draw, mouse_interaction);

    fn operate(
        &mut self,
        tree: &mut Tree,
        layout: Layout<'_>,
        renderer: &Renderer,
        operation: &mut dyn Operation,
    ) {
        self.content.as_widget_mut().operate(
            &mut tree.children[0],
            layout,
            renderer,
            &mut NoFocus { inner: operation },
        );
    }

    fn update(
        &mut self,
        tree: &mut Tree,
        event: &Event,
        layout: Layout<'_>,
        cursor: mouse::Cursor,
        renderer: &Renderer,
        clipboard: &mut dyn Clipboard,
        shell: &mut Shell<'_, M>,
        viewport: &Rectangle,
    ) {
        if matches!(event, Event::Keyboard(_) | Event::InputMethod(_)) {
            return;
        }
        self.content.as_widget_mut().update(
            &mut tree.children[0],
            event,
            layout,
            cursor,
            renderer,
            clipboard,
            shell,
            viewport,
        );
    }
}
