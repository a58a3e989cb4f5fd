"""Mail out: message kinds, their composition and headers, signed reply addresses and Message-IDs."""
