"""Knowledge base: bundle content as data, loaded, validated, seeded and queried."""


def cache_clear() -> None:
    """Drop this process's cached knowledge-base content and what is built on it
    (application forms): call it after publishing content. Other processes see new
    content within KB_RECHECK_SECONDS (bot.kb.service)."""
    from bot.kb.service import cache_clear as clear

    clear()
