//! The List value type. Placeholder until the types issue fills it in:
//! the keyspace and the Value enum already know it.

/// A list value.
#[derive(Clone, Debug, Default)]
pub struct List {}

impl List {
    /// Redis's OBJECT ENCODING name for the current representation.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned (INFO memory, MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        0
    }

    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
