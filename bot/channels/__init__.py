"""Rasa input channels of our own (the WeChat channel lives in wechat/)."""
