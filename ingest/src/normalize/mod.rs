//! TEMPORARY stub until the real normalisers land (being written in parallel).
use verocta_schemas::Category;
/// stub
pub fn normalize_vendor(raw: &str) -> String {
    raw.trim().to_lowercase()
}
/// stub
pub fn categorize(_: Option<&str>, _: Option<&str>, _: Option<&str>, _: Option<&str>) -> Category {
    Category::Uncategorized
}
