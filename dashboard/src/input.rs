//! Keys to actions. Kept apart from the terminal loop so it is testable.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::state::Action;

/// What a key press asks for, if anything.
pub fn action(key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    Some(match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Action::Quit,
        KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
        KeyCode::Char('p') => Action::Pause,
        KeyCode::Tab => Action::NextView,
        KeyCode::Right | KeyCode::Char('l') => Action::NextArch,
        KeyCode::Left | KeyCode::Char('h') => Action::PrevArch,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char(c @ '1'..='9') => Action::Arch(c as usize - '1' as usize),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_map_to_actions() {
        assert_eq!(action(key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(action(key(KeyCode::Esc)), Some(Action::Quit));
        assert_eq!(
            action(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(action(key(KeyCode::Char('c'))), None);
        assert_eq!(action(key(KeyCode::Char('p'))), Some(Action::Pause));
        assert_eq!(action(key(KeyCode::Tab)), Some(Action::NextView));
        assert_eq!(action(key(KeyCode::Char('?'))), Some(Action::Help));
        assert_eq!(action(key(KeyCode::Char('3'))), Some(Action::Arch(2)));
        assert_eq!(action(key(KeyCode::Right)), Some(Action::NextArch));
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(action(release), None);
    }
}
