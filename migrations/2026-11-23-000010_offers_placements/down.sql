DROP TABLE placement_allocations;
DROP TABLE placements;
DROP TABLE offer_allocations;
DROP TABLE offers;
