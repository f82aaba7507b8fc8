"""WeChat: the Official Account channel, the mini-program backend and WeChat's API."""
