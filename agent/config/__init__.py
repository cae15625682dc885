"""Configuration: where user state lives (`home`), the keys and their types (`schema`),
loading the TOML layers (`load`), and which repositories the user trusts (`trust`)."""
