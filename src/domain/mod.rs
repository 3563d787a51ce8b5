//! Value types that parse themselves ("parse, don't validate"): past the form handler nothing
//! handles a raw string for these. Each error carries the French message shown next to the field.

mod control;
mod email;
pub mod fields;
pub mod french;
mod fte;
pub mod ids;
mod name;
mod phone;
pub mod postal;
mod rpps;
pub mod salutation;
mod spouse;
mod week;

pub use control::{has_control, is_forbidden_control, CONTROL_MESSAGE};
pub use email::EmailAddress;
pub use fields::{describe_half_days, paris_today, parse_date, FieldErrors};
pub use fte::{format_hundredths, split_decimal, DecimalError, Fte};
pub use name::{FreeText, PersonName};
pub use phone::PhoneNumber;
pub use postal::{AddressInput, PostalAddress};
pub use rpps::Rpps;
pub use salutation::salutation;
pub use spouse::{SpouseSupport, MAX_SPOUSE_FIELD_CHARS};
pub use week::{HalfDay, WeekPattern, WEEKDAYS};

/// A value a person typed that cannot be accepted, with how to correct it (in French).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Invalid(message.into())
    }
}
