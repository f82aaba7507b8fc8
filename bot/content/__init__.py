"""Content as versions: the editors' drafts, the trained models and what is live.

bot.content.store     content versions (draft → trained → live), edits, diff, export/import
bot.content.training  the training queue and the worker process (python -m bot.content.worker)
bot.content.models    trained models, evaluation, publish / roll back, the live model file
bot.content.pinning   which content version answers a turn (from the model that understood it)
"""
