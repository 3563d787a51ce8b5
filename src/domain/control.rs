//! The control-character rule of every text field: NUL and the other C0 controls (but tab, CR
//! and LF, typed in text areas) are refused wherever a value is typed, with one French message.

/// NUL and the other C0 control characters, but tab, CR and LF (typed in text areas).
pub fn is_forbidden_control(c: char) -> bool {
    c < '\u{20}' && !matches!(c, '\t' | '\n' | '\r')
}

/// True when `s` holds a character no field accepts.
pub fn has_control(s: &str) -> bool {
    s.chars().any(is_forbidden_control)
}

/// The French message shown for a field holding a control character.
pub const CONTROL_MESSAGE: &str = "Ce champ contient un caractère de contrôle invisible (par \
    exemple NUL), qui n'est pas accepté : retapez la valeur sans ce caractère.";
