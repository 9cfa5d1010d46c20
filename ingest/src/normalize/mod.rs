//! Normalisers that turn free text from bank, card and accounting exports into stable keys.
//!
//! Two functions run once per ingested row, so both are pure, allocation-light and built on
//! hand-written tokenising over `&str` rather than regular expressions:
//!
//! - [`normalize_vendor`] turns a merchant or payee as printed on a statement into the
//!   lowercase key used to group spend by vendor.
//! - [`categorize`] maps the category, account, description and vendor of a row onto the
//!   [`verocta_schemas::Category`] taxonomy.
//!
//! Both are pure ([`Categorizer`] only remembers [`categorize`]'s answers for texts that
//! repeat across an export's rows) and neither can fail: unknown text yields an empty vendor
//! key or [`verocta_schemas::Category::Uncategorized`], never an error, because one odd row
//! must not stop a 100 MB import. The rules, the alias table and the measured accuracy on real
//! ledgers are described in `docs/normalization.md`.

pub mod category;
pub(crate) mod memo;
pub mod vendor;

pub use category::{Categorizer, categorize};
pub use vendor::normalize_vendor;
