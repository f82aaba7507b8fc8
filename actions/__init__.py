"""Custom Rasa actions. They read the knowledge base through bot.kb.service only."""
