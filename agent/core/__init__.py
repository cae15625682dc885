"""The core the loop is written against: value types (`types`), events, errors, the
loop itself, permission rules (and the shell splitting they need), compaction and
verification. Imports nothing from the rest of `agent` but the model seam's types."""
