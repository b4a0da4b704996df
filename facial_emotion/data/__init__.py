"""Reading FER2013 in its two published layouts, generating stand-in data, and splitting it."""
