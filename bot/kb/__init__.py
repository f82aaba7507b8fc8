"""Knowledge base: bundle content as data, loaded, validated, seeded and queried."""
