//! Offers, placements and centre capacity.
