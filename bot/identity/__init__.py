"""Real-name identity verification (实名核验) of a citizen, before anything that
needs to know who they are (shared-data pre-fill).

The providers (粤省事 / 微信实名 / 人脸核身 services) live outside our network, so
they are reached through one interface (`provider.IdentityProvider`) speaking the
protocol described in `provider`; `fake` is a loopback provider for tests and
`make run WECHAT=fake`. `service.Identities` keeps who verified what (table
identity_verifications).
"""
