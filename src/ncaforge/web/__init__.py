"""The browser playground: models exported as a static site whose JS runs the same step as Python."""
