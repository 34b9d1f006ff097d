"""Geography: reverse geocoding, projection, boundaries. No Flask, no database."""
