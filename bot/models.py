"""SQLAlchemy models: the knowledge base (content loaded from data/bundles/*.yml)
and applications (what citizens submit)."""

from __future__ import annotations

import json

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

Base = declarative_base()


class Department(Base):
    __tablename__ = "kb_departments"

    id = Column(String(64), primary_key=True)
    name = Column(String(100), nullable=False)
    national_name = Column(String(100), nullable=False)
    where = Column(Text, nullable=False)


class Material(Base):
    """A document (材料) that items may require, catalogued once."""

    __tablename__ = "kb_materials"

    id = Column(String(64), primary_key=True)
    name = Column(Text, nullable=False)
    aliases = Column(JSON, nullable=False, default=list)
    note = Column(Text)
    e_certificate = Column(Text)
    is_form = Column(Boolean, nullable=False, default=False)


class Bundle(Base):
    """One 一件事: a bundle of items handled by several departments."""

    __tablename__ = "kb_bundles"

    id = Column(String(64), primary_key=True)
    name = Column(String(100), nullable=False)
    audience = Column(String(20), nullable=False)
    description = Column(Text, nullable=False)
    lead_department_id = Column(ForeignKey("kb_departments.id"), nullable=False)
    channels = Column(JSON, nullable=False, default=list)
    notes = Column(JSON, nullable=False, default=list)
    inferred = Column(JSON, nullable=False, default=list)
    position = Column(Integer, nullable=False, default=0)
    source_file = Column(String(255), nullable=False)

    lead_department = relationship(Department)
    items = relationship(
        "BundleItem", back_populates="bundle", order_by="BundleItem.position"
    )
    synonyms = relationship("Synonym", back_populates="bundle")


class BundleItem(Base):
    """An item (事项) as part of a bundle: the bundle–item link with its rules.

    `choice` is optional, mandatory or parallel_required; items sharing a
    `parallel_group` must be chosen together (法律法规规定应当并行办理).
    """

    __tablename__ = "kb_bundle_items"
    __table_args__ = (UniqueConstraint("bundle_id", "key"),)

    id = Column(String(130), primary_key=True)  # "<bundle>.<item>"
    bundle_id = Column(ForeignKey("kb_bundles.id", ondelete="CASCADE"), nullable=False)
    key = Column(String(64), nullable=False)
    name = Column(Text, nullable=False)
    department_id = Column(ForeignKey("kb_departments.id"), nullable=False)
    position = Column(Integer, nullable=False)
    choice = Column(String(20), nullable=False, default="optional")
    parallel_group = Column(String(64))
    first_step = Column(Boolean, nullable=False, default=False)
    in_national_list = Column(Boolean, nullable=False, default=True)
    in_guangdong_list = Column(Boolean, nullable=False, default=True)
    working_days = Column(Float)
    time_limit_committed = Column(Text)
    time_limit_statutory = Column(Text)
    fee = Column(Text, nullable=False)
    online = Column(String(10), nullable=False)
    online_note = Column(Text)
    results = Column(JSON, nullable=False, default=list)
    produces = Column(JSON, nullable=False, default=list)
    notes = Column(JSON, nullable=False, default=list)
    inferred = Column(JSON, nullable=False, default=list)
    where_note = Column(Text)
    keywords = Column(JSON, nullable=False, default=list)

    bundle = relationship(Bundle, back_populates="items")
    department = relationship(Department)
    materials = relationship(
        "ItemMaterial", back_populates="item", order_by="ItemMaterial.position"
    )
    prerequisites = relationship(
        "ItemPrerequisite",
        back_populates="item",
        foreign_keys="ItemPrerequisite.item_id",
        order_by="ItemPrerequisite.position",
    )
    places = relationship("ItemPlace", order_by="ItemPlace.position")


class ItemMaterial(Base):
    __tablename__ = "kb_item_materials"

    id = Column(Integer, primary_key=True, autoincrement=True)
    item_id = Column(ForeignKey("kb_bundle_items.id", ondelete="CASCADE"), nullable=False)
    material_id = Column(ForeignKey("kb_materials.id"), nullable=False)
    holder = Column(String(50), nullable=False)
    note = Column(Text)
    conditional = Column(Boolean, nullable=False, default=False)
    position = Column(Integer, nullable=False)

    item = relationship(BundleItem, back_populates="materials")
    material = relationship(Material)


class ItemPrerequisite(Base):
    """What must come first. Rows sharing `position` are alternatives (any one)."""

    __tablename__ = "kb_item_prerequisites"

    id = Column(Integer, primary_key=True, autoincrement=True)
    item_id = Column(ForeignKey("kb_bundle_items.id", ondelete="CASCADE"), nullable=False)
    position = Column(Integer, nullable=False)
    requires_item_id = Column(ForeignKey("kb_bundle_items.id"))
    condition = Column(Text)

    item = relationship(BundleItem, back_populates="prerequisites", foreign_keys=[item_id])
    requires = relationship(BundleItem, foreign_keys=[requires_item_id])


class Synonym(Base):
    """A colloquial name of a bundle, or of an item when item_id is set."""

    __tablename__ = "kb_synonyms"
    __table_args__ = (UniqueConstraint("bundle_id", "item_id", "text"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    text = Column(String(100), nullable=False, index=True)
    bundle_id = Column(ForeignKey("kb_bundles.id", ondelete="CASCADE"), nullable=False)
    item_id = Column(ForeignKey("kb_bundle_items.id", ondelete="CASCADE"))

    bundle = relationship(Bundle, back_populates="synonyms")


class PlaceKind(Base):
    """A kind of place a citizen goes to (分娩医院, 户籍所在地派出所, 粤省事 …)."""

    __tablename__ = "kb_place_kinds"

    id = Column(String(64), primary_key=True)
    name = Column(String(100), nullable=False)
    text = Column(Text, nullable=False)          # when the citizen's city is not known
    local_text = Column(Text)                    # template: {city} {district} {area}
    online = Column(Boolean, nullable=False, default=False)
    position = Column(Integer, nullable=False, default=0)


class City(Base):
    """A prefecture-level city of Guangdong with its districts and own place texts."""

    __tablename__ = "kb_cities"

    id = Column(String(64), primary_key=True)
    name = Column(String(50), nullable=False)
    aliases = Column(JSON, nullable=False, default=list)
    not_before = Column(JSON, nullable=False, default=list)
    district_word = Column(String(20), nullable=False, default="各区")
    districts = Column(JSON, nullable=False, default=list)  # [{id, name, aliases, not_before}]
    places = Column(JSON, nullable=False, default=dict)      # {place kind: text}
    position = Column(Integer, nullable=False, default=0)


class ItemPlace(Base):
    """Where an item is done: kinds of place in order, the main one first."""

    __tablename__ = "kb_item_places"

    id = Column(Integer, primary_key=True, autoincrement=True)
    item_id = Column(ForeignKey("kb_bundle_items.id", ondelete="CASCADE"), nullable=False)
    place_kind_id = Column(ForeignKey("kb_place_kinds.id"), nullable=False)
    position = Column(Integer, nullable=False)


class BundleGuide(Base):
    """A bundle's situations (情形引导): questions, rules and exclusive items as
    validated JSON (bot.kb.situations reads and evaluates it)."""

    __tablename__ = "kb_bundle_guides"

    bundle_id = Column(ForeignKey("kb_bundles.id", ondelete="CASCADE"), primary_key=True)
    questions = Column(JSON, nullable=False, default=list)
    rules = Column(JSON, nullable=False, default=list)
    exclusive = Column(JSON, nullable=False, default=list)


class BundleRequirement(Base):
    """Another bundle that comes first (企业准营 needs 企业开办), unless the
    situation answers in `unless` say it is done."""

    __tablename__ = "kb_bundle_requirements"

    id = Column(Integer, primary_key=True, autoincrement=True)
    bundle_id = Column(ForeignKey("kb_bundles.id", ondelete="CASCADE"), nullable=False)
    position = Column(Integer, nullable=False)
    requires_bundle_id = Column(ForeignKey("kb_bundles.id"), nullable=False)
    why = Column(Text, nullable=False)
    unless = Column(JSON, nullable=False, default=dict)


class KbMeta(Base):
    """One row: the content fingerprint of the seeded knowledge base."""

    __tablename__ = "kb_meta"

    id = Column(Integer, primary_key=True)
    content_hash = Column(String(64), nullable=False)
    seeded_at = Column(String(40), nullable=False)


class ElsewhereService(Base):
    """A government service that is not one of our bundles, and where it is handled
    (data/elsewhere.yml; owned by bot.kb.elsewhere)."""

    __tablename__ = "kb_elsewhere_services"

    id = Column(String(64), primary_key=True)
    name = Column(String(100), nullable=False)
    phrases = Column(JSON, nullable=False, default=list)
    department_id = Column(String(64))  # a kb_departments id, kept as a plain value
    office = Column(Text, nullable=False)
    channels = Column(JSON, nullable=False, default=list)  # [{"id", "name", "how"}]
    note = Column(Text)
    confused_with = Column(JSON, nullable=False, default=list)
    position = Column(Integer, nullable=False, default=0)
    content_hash = Column(String(64), nullable=False)


# ---------------------------------------------------------------------------
# Applications (申请): drafts, submitted applications, per-department
# sub-applications, their append-only history, the notification outbox,
# 好差评 ratings, shared-data records, department API keys and the PII vault.
# Personal data is stored encrypted (EncryptedJSON / ciphertext columns).
# Bundle and department ids are kept as plain values, not foreign keys: records
# outlive content, which editors re-seed, rename or retire.
# ---------------------------------------------------------------------------


class EncryptedJSON(TypeDecorator):
    """A JSON value stored as Fernet ciphertext (key: bot.privacy.crypto)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        from bot.privacy.crypto import encrypt

        return encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        from bot.privacy.crypto import decrypt

        return json.loads(decrypt(value))


class VaultEntry(Base):
    """One vaulted 身份证号 or phone number, resolvable only by its conversation."""

    __tablename__ = "pii_vault"

    token = Column(String(16), primary_key=True)
    kind = Column(String(16), nullable=False)
    owner = Column(String(64), nullable=False)  # blind index of the sender id
    ciphertext = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


class CitizenRecord(Base):
    """Shared data (共享数据) about a citizen and their 电子证照, for pre-filling."""

    __tablename__ = "citizen_records"

    id = Column(Integer, primary_key=True, autoincrement=True)
    id_index = Column(String(64), nullable=False, unique=True)
    data = Column(EncryptedJSON, nullable=False)
    source = Column(String(50), nullable=False, default="demo")
    updated_at = Column(DateTime(timezone=True), nullable=False)


class Draft(Base):
    """A half-filled application: one per conversation until submitted or cancelled."""

    __tablename__ = "app_drafts"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender = Column(String(255), nullable=False, index=True)
    bundle_id = Column(String(64), nullable=False)
    status = Column(String(16), nullable=False, default="open")  # open|submitted|cancelled
    stage = Column(String(16), nullable=False, default="items")
    items = Column(JSON, nullable=False, default=list)
    values = Column(EncryptedJSON, nullable=False, default=dict)
    prefilled = Column(JSON, nullable=False, default=list)
    pending = Column(String(64))
    consent = Column(Boolean)
    created_at = Column(DateTime(timezone=True), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False)


class DayCounter(Base):
    """Per-day sequence behind readable application numbers (YJS-YYYYMMDD-NNNNNN)."""

    __tablename__ = "app_day_counters"

    day = Column(String(8), primary_key=True)
    last = Column(Integer, nullable=False)


class Application(Base):
    __tablename__ = "applications"

    id = Column(Integer, primary_key=True, autoincrement=True)
    number = Column(String(24), nullable=False, unique=True)
    draft_id = Column(ForeignKey("app_drafts.id"), nullable=False, unique=True)
    sender = Column(String(255), nullable=False, index=True)
    bundle_id = Column(String(64), nullable=False)
    applicant_index = Column(String(64), index=True)
    values = Column(EncryptedJSON, nullable=False)
    status = Column(String(16), nullable=False, default="submitted")
    submitted_at = Column(DateTime(timezone=True), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False)
    completed_at = Column(DateTime(timezone=True))

    subs = relationship("SubApplication", back_populates="application",
                        order_by="SubApplication.position")


class SubApplication(Base):
    """One chosen item of an application, routed to its department."""

    __tablename__ = "app_sub_applications"
    __table_args__ = (UniqueConstraint("application_id", "item_key"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    application_id = Column(ForeignKey("applications.id", ondelete="CASCADE"), nullable=False)
    position = Column(Integer, nullable=False)
    item_key = Column(String(64), nullable=False)
    item_name = Column(Text, nullable=False)
    department_id = Column(String(64), nullable=False, index=True)
    state = Column(String(16), nullable=False, default="submitted")
    note = Column(Text)  # what is missing, the result, or the reason
    updated_at = Column(DateTime(timezone=True), nullable=False)

    application = relationship(Application, back_populates="subs")


class ApplicationEvent(Base):
    """Append-only history of an application and its sub-applications."""

    __tablename__ = "app_events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    application_id = Column(ForeignKey("applications.id"), nullable=False, index=True)
    sub_application_id = Column(ForeignKey("app_sub_applications.id"))
    from_state = Column(String(16))
    to_state = Column(String(16), nullable=False)
    actor = Column(String(64), nullable=False)
    detail = Column(Text)
    at = Column(DateTime(timezone=True), nullable=False)


class OutboxMessage(Base):
    """A notification to a citizen, written in the same transaction as its cause."""

    __tablename__ = "outbox"

    id = Column(Integer, primary_key=True, autoincrement=True)
    recipient = Column(String(255), nullable=False, index=True)
    kind = Column(String(32), nullable=False)
    payload = Column(JSON, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False, index=True)
    sent_at = Column(DateTime(timezone=True), index=True)
    last_error = Column(Text)
    claimed_until = Column(DateTime(timezone=True))  # a sender is delivering it now
    delivered_via = Column(String(16))  # wechat_cs | mp_subscribe | none


class Rating(Base):
    """好差评: 1 (非常不满意) … 5 (非常满意); ≤ 2 is flagged for follow-up."""

    __tablename__ = "ratings"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender = Column(String(255), nullable=False, index=True)
    application_id = Column(ForeignKey("applications.id"))
    bundle_id = Column(String(64))
    department_ids = Column(JSON, nullable=False, default=list)
    score = Column(Integer, nullable=False)
    comment = Column(Text)
    flagged = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


class DepartmentKey(Base):
    """A department system's API key, stored as a SHA-256 hash only."""

    __tablename__ = "department_keys"

    id = Column(Integer, primary_key=True, autoincrement=True)
    department_id = Column(String(64), nullable=False, index=True)
    key_hash = Column(String(64), nullable=False, unique=True)
    label = Column(String(100))
    created_at = Column(DateTime(timezone=True), nullable=False)
    revoked_at = Column(DateTime(timezone=True))


# ---------------------------------------------------------------------------
# WeChat: state shared by every server process (tokens, pushed messages,
# mini-program subscriptions).
# ---------------------------------------------------------------------------


class WeChatToken(Base):
    """The access_token of one AppID, fetched by one process and cached for all."""

    __tablename__ = "wechat_tokens"

    appid = Column(String(64), primary_key=True)
    ciphertext = Column(Text)  # Fernet-encrypted access_token
    expires_at = Column(DateTime(timezone=True))
    generation = Column(Integer, nullable=False, default=0)
    lease_owner = Column(String(64))  # the process currently fetching a fresh token
    lease_until = Column(DateTime(timezone=True))
    updated_at = Column(DateTime(timezone=True), nullable=False)


class WeChatInbound(Base):
    """A message or event WeChat pushed: a retry of it never runs the dialogue twice."""

    __tablename__ = "wechat_inbound"

    key = Column(String(128), primary_key=True)  # MsgId, or FromUserName+CreateTime
    openid = Column(String(64), nullable=False, index=True)
    state = Column(String(16), nullable=False)  # processing|replied|async|done|failed
    reply = Column(EncryptedJSON)  # the bot's texts, kept for retries of a passive reply
    received_at = Column(DateTime(timezone=True), nullable=False, index=True)
    updated_at = Column(DateTime(timezone=True), nullable=False)
    lease_until = Column(DateTime(timezone=True))


class MpSubscription(Base):
    """One-time subscribe-message grants of a mini-program user, per template."""

    __tablename__ = "mp_subscriptions"
    __table_args__ = (UniqueConstraint("openid", "template_id"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    openid = Column(String(64), nullable=False)
    template_id = Column(String(128), nullable=False)
    remaining = Column(Integer, nullable=False, default=0)
    updated_at = Column(DateTime(timezone=True), nullable=False)


# ---------------------------------------------------------------------------
# Staff (agents, editors, publishers, admins): accounts, sessions, login
# throttling and the append-only audit log. Owned by bot/staff/.
# ---------------------------------------------------------------------------


class StaffAccount(Base):
    """A console user; never deleted (disabled instead), so the audit log stays readable."""

    __tablename__ = "staff_accounts"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(32), nullable=False, unique=True)  # lower case
    display_name = Column(String(64))
    password_hash = Column(String(255), nullable=False)  # argon2id, PHC string
    disabled = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False)
    password_changed_at = Column(DateTime(timezone=True), nullable=False)
    last_login_at = Column(DateTime(timezone=True))

    roles = relationship("StaffRole", cascade="all, delete-orphan", lazy="selectin")


class StaffRole(Base):
    """One role of an account: agent, editor, publisher or admin."""

    __tablename__ = "staff_roles"

    account_id = Column(ForeignKey("staff_accounts.id", ondelete="CASCADE"), primary_key=True)
    role = Column(String(16), primary_key=True)


class StaffSession(Base):
    """A console login, server-side. The cookie holds a random token; only its
    SHA-256 is stored, so the table cannot be replayed."""

    __tablename__ = "staff_sessions"

    id = Column(String(64), primary_key=True)  # sha256(token) hex
    account_id = Column(ForeignKey("staff_accounts.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    csrf = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    last_seen_at = Column(DateTime(timezone=True), nullable=False)
    expires_at = Column(DateTime(timezone=True), nullable=False, index=True)
    revoked_at = Column(DateTime(timezone=True))
    ip = Column(String(64))
    user_agent = Column(String(200))


class StaffLoginThrottle(Base):
    """Failed logins per username and per client address, shared by every backend process."""

    __tablename__ = "staff_login_throttle"

    key = Column(String(100), primary_key=True)  # "user:<name>" | "ip:<address>"
    failures = Column(Integer, nullable=False, default=0)
    first_failure_at = Column(DateTime(timezone=True), nullable=False)
    last_failure_at = Column(DateTime(timezone=True), nullable=False, index=True)
    locked_until = Column(DateTime(timezone=True))


class AuditEntry(Base):
    """Append-only: who did what, to which conversation or application, when, from where.
    The database refuses UPDATE and DELETE on this table (triggers, migration 0004)."""

    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    actor = Column(String(64), index=True)  # staff username, "cli:<user>" or "system"
    actor_id = Column(Integer)  # staff_accounts.id when the actor is an account
    action = Column(String(48), nullable=False, index=True)  # e.g. staff.login
    outcome = Column(String(16), nullable=False)  # ok | failed | denied
    conversation = Column(String(128), index=True)
    application = Column(String(32), index=True)  # application number
    target = Column(String(128))  # e.g. the account changed
    detail = Column(JSON)
    ip = Column(String(64))
# Security: replay protection, identity verification, the shared-data audit.
# ---------------------------------------------------------------------------


class SeenNonce(Base):
    """A (timestamp, nonce) or nonce a signed request used, with its body's digest:
    shared by every process, so a replay is refused wherever it lands."""

    __tablename__ = "seen_nonces"

    scope = Column(String(16), primary_key=True)  # wechat | miniprogram
    key = Column(String(128), primary_key=True)
    digest = Column(String(64), nullable=False)
    expires_at = Column(DateTime(timezone=True), nullable=False, index=True)


class IdentityVerification(Base):
    """A real-name verification (实名核验) a citizen started or passed with the provider."""

    __tablename__ = "identity_verifications"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_index = Column(String(64), nullable=False, index=True)  # blind index of the sender id
    provider = Column(String(32), nullable=False)
    ticket = Column(Text, nullable=False)  # the provider's biz token, encrypted
    url = Column(Text, nullable=False)  # where the citizen verifies, encrypted
    state = Column(String(16), nullable=False)  # pending | passed | failed | expired
    id_index = Column(String(64))  # blind index of the verified 身份证号
    created_at = Column(DateTime(timezone=True), nullable=False)
    expires_at = Column(DateTime(timezone=True), nullable=False)
    verified_at = Column(DateTime(timezone=True))


class SharedDataLookup(Base):
    """Audit log of shared-data look-ups (and refusals), per sender; also the rate limit."""

    __tablename__ = "shared_data_lookups"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_index = Column(String(64), nullable=False, index=True)
    id_index = Column(String(64))
    channel = Column(String(16), nullable=False)
    outcome = Column(String(16), nullable=False)  # found | none | unverified | mismatch | limited
    at = Column(DateTime(timezone=True), nullable=False, index=True)


# ---------------------------------------------------------------------------
# Handoff to hotline agents (bot/handoff owns these tables).
# ---------------------------------------------------------------------------


class HandoffConversation(Base):
    """A citizen's conversation once it asked for a person: bot → waiting → agent → bot.

    `id` is the opaque id the console uses (never the openid); `paused` says whether
    Rasa's tracker holds a ConversationPaused that we appended (the bot is silent).
    """

    __tablename__ = "handoff_conversations"

    id = Column(String(24), primary_key=True)
    sender = Column(String(255), nullable=False, unique=True)
    channel = Column(String(16), nullable=False)  # wechat | miniprogram | rest
    state = Column(String(16), nullable=False, index=True)  # bot | waiting | agent
    paused = Column(Boolean, nullable=False, default=False)
    reason = Column(String(16))  # request_human | fallback | rating
    agent_id = Column(ForeignKey("staff_accounts.id"))
    agent_name = Column(String(64))
    context = Column(EncryptedJSON)  # bundle, items, … as the bot saw them at handoff
    last_message = Column(EncryptedJSON)  # {"text": …} (vaulted text)
    waiting_since = Column(DateTime(timezone=True), index=True)
    assigned_at = Column(DateTime(timezone=True))
    heartbeat_at = Column(DateTime(timezone=True))  # the holding agent's console is open
    updated_at = Column(DateTime(timezone=True), nullable=False)


class HandoffMessage(Base):
    """What the console shows: the citizen's, the bot's and the agent's messages.

    Agent messages carry their delivery state: sent (WeChat accepted it), queued (the
    mini-program or REST client fetches it), delivered (fetched), failed (refused).
    """

    __tablename__ = "handoff_messages"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(ForeignKey("handoff_conversations.id"), nullable=False, index=True)
    sender = Column(String(255), nullable=False, index=True)
    role = Column(String(8), nullable=False)  # citizen | bot | agent
    body = Column(EncryptedJSON, nullable=False)  # {"text": …}
    at = Column(DateTime(timezone=True), nullable=False)
    agent_name = Column(String(64))
    status = Column(String(12))  # agent messages: sent | queued | delivered | failed
    error = Column(String(200))
    delivered_at = Column(DateTime(timezone=True))


class HandoffNote(Base):
    """An agent's private note on a conversation (never shown to the citizen)."""

    __tablename__ = "handoff_notes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(ForeignKey("handoff_conversations.id"), nullable=False, index=True)
    author = Column(String(64), nullable=False)
    body = Column(EncryptedJSON, nullable=False)  # {"text": …}
    at = Column(DateTime(timezone=True), nullable=False)


class WorkOrder(Base):
    """转工单: a 12345 work order made from a conversation."""

    __tablename__ = "handoff_work_orders"

    id = Column(Integer, primary_key=True, autoincrement=True)
    number = Column(String(32), nullable=False, unique=True)
    conversation_id = Column(ForeignKey("handoff_conversations.id"), nullable=False, index=True)
    category = Column(String(32), nullable=False)
    department_id = Column(String(64), nullable=False)
    deadline = Column(DateTime(timezone=True), nullable=False)
    body = Column(EncryptedJSON, nullable=False)  # {"summary": …}
    created_by = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    status = Column(String(16), nullable=False, default="open")


class CallbackTicket(Base):
    """Outside staffed hours: the citizen is called (or written) back when agents are in."""

    __tablename__ = "handoff_callbacks"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(ForeignKey("handoff_conversations.id"), nullable=False, index=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    state = Column(String(16), nullable=False, default="open")  # open | done
    done_by = Column(String(64))
    done_at = Column(DateTime(timezone=True))
