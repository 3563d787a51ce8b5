//! Centres and positions: the administrators' pages.
