//! Browser tests (feature `browser`): filled in by the browser suite.
