-- Control plane: operators (wallets), their API keys, SIWE nonces, linked agents, agent credentials,
-- provider connections (keys encrypted at rest) and guardrails. Times are milliseconds since the epoch
-- (bigint) so that the application's clock is the only clock.

CREATE TABLE operators (
  wallet      text PRIMARY KEY CHECK (wallet ~ '^0x[0-9a-f]{40}$'),
  created_at  bigint NOT NULL
);

CREATE TABLE api_keys (
  id          text PRIMARY KEY,
  operator    text NOT NULL REFERENCES operators (wallet),
  role        text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
  -- sha256 hex of the whole key; the key itself is shown once and never stored.
  hash        text NOT NULL UNIQUE,
  label       text,
  created_by  text,
  created_at  bigint NOT NULL,
  revoked_at  bigint
);
CREATE INDEX api_keys_operator ON api_keys (operator);

CREATE TABLE siwe_nonces (
  nonce       text PRIMARY KEY,
  issued_at   bigint NOT NULL,
  expires_at  bigint NOT NULL,
  used_at     bigint
);
CREATE INDEX siwe_nonces_expires_at ON siwe_nonces (expires_at);

CREATE TABLE agents (
  agent_id         text PRIMARY KEY CHECK (agent_id ~ '^0x[0-9a-f]{64}$'),
  operator         text NOT NULL REFERENCES operators (wallet),
  uid              text NOT NULL,
  name             text,
  -- Tier 2: false stops every call of the agent (AGENT_DISABLED).
  enabled          boolean NOT NULL DEFAULT true,
  enabled_reason   text,
  -- Credentials issued before this time (ms) are dead (CREDENTIAL_REVOKED).
  credential_cutoff bigint,
  linked_at        bigint NOT NULL,
  updated_at       bigint NOT NULL
);
CREATE INDEX agents_operator ON agents (operator);

CREATE TABLE credentials (
  id          text PRIMARY KEY,
  agent_id    text NOT NULL REFERENCES agents (agent_id),
  hash        text NOT NULL UNIQUE,
  label       text,
  issued_at   bigint NOT NULL,
  revoked_at  bigint
);
CREATE INDEX credentials_agent ON credentials (agent_id);

CREATE TABLE provider_connections (
  agent_id        text NOT NULL REFERENCES agents (agent_id),
  name            text NOT NULL,
  base_url        text NOT NULL,
  style           text NOT NULL CHECK (style IN ('openai', 'anthropic')),
  -- AES-256-GCM under the master key: ciphertext || tag, its 12-byte nonce, and the master key's version.
  key_ciphertext  bytea NOT NULL,
  key_nonce       bytea NOT NULL,
  key_version     integer NOT NULL,
  key_last4       text NOT NULL,
  key_fingerprint text NOT NULL,
  -- Tier 1: false stops the agent's calls to this provider (PROVIDER_DISABLED).
  enabled         boolean NOT NULL DEFAULT true,
  enabled_reason  text,
  created_at      bigint NOT NULL,
  updated_at      bigint NOT NULL,
  PRIMARY KEY (agent_id, name)
);

CREATE TABLE guardrails (
  agent_id    text NOT NULL REFERENCES agents (agent_id),
  -- '*' (every provider) or a provider connection name.
  scope       text NOT NULL,
  rpm         integer,
  rpd         integer,
  usd_micros  bigint,
  action      text NOT NULL CHECK (action IN ('tier1', 'tier2')),
  updated_at  bigint NOT NULL,
  PRIMARY KEY (agent_id, scope)
);
