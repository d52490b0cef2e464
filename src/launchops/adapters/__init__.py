"""One folder per chat platform; the only code that imports a platform SDK lives here."""
