"""The Rasa input channels citizens reach the assistant through (credentials.yml):

* `channels.rest.RestInput` — Rasa's REST protocol, POST /webhooks/rest/webhook;
* `channels.wechat.WeChatInput` — the Official Account push URL, /webhooks/wechat/webhook;
* `channels.miniprogram.MiniProgramInput` — the mini-program backend's private door,
  /webhooks/miniprogram/webhook.

Each is an InputChannel that verifies the request, parses it and hands Rasa one
`UserMessage` (with 身份证号 and phone numbers vaulted), plus its OutputChannel.
Who a sender may be is decided in one place, bot.senders.
"""
