//! Placeholder: the form POST benchmark (see BENCHMARKS.md).
fn main() {}
