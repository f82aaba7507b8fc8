"""Custom Rasa graph components for Chinese government-service NLU."""
