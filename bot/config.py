"""Settings, read once at start from the environment and `.env`.

Bad configuration fails here with one line naming the variable, never at the first message.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError
from bot.ledger import url as db_url

log = logging.getLogger("clearance")
# An approvals API identity `api:<name>`, matched whole (re.fullmatch): a trailing newline or
# any other character outside the set is a different name, not the same one.
API_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def is_api_name(value: object) -> bool:
    return isinstance(value, str) and API_NAME.fullmatch(value) is not None


def parse_api_tokens(text: str) -> dict[str, str]:
    """`release-bot=<token>,policy=<token>` → {name: token}. Messages name the entry by its
    position or name, never by its token."""
    tokens: dict[str, str] = {}
    for number, entry in enumerate(text.split(","), start=1):
        name, equals, token = entry.partition("=")
        # Spaces around a pair are layout; any other character makes the name invalid, not trimmed.
        name, token = name.strip(" "), token.strip()
        if not equals or not token:
            raise ValueError(f"entry {number} must be name=token (comma-separated name=token pairs)")
        if not is_api_name(name):
            raise ValueError(f"entry {number}: the name must be 1-64 letters, digits or ._-")
        if name in tokens:
            raise ValueError(f"the name {name} is given twice")
        if token in tokens.values():
            raise ValueError(f"{name} has the same token as another name; each token is one identity")
        tokens[name] = token
    return tokens


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=db_url.ENV_FILE, extra="ignore", populate_by_name=True)

    # Name and default live with the reader `clearance pending` uses without pydantic.
    database_url: str = Field(default=db_url.DEFAULT, alias=db_url.NAME)  # type: ignore[literal-required]
    tools_path: str | None = Field(default=None, alias="CLEARANCE_TOOLS")
    host: str = Field(default="0.0.0.0", alias="HOST")
    port: int = Field(default=3000, alias="PORT", ge=1, le=65535)

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")

    teams_app_id: str | None = Field(default=None, alias="TEAMS_APP_ID")
    teams_app_password: SecretStr | None = Field(default=None, alias="TEAMS_APP_PASSWORD")
    teams_tenant_id: str | None = Field(default=None, alias="TEAMS_TENANT_ID")
    teams_allow_anonymous: bool = Field(default=False, alias="TEAMS_ALLOW_ANONYMOUS")

    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    model: str | None = Field(default=None, alias="CLEARANCE_MODEL")
    azure_openai_endpoint: str | None = Field(default=None, alias="AZURE_OPENAI_ENDPOINT")
    azure_openai_api_key: SecretStr | None = Field(default=None, alias="AZURE_OPENAI_API_KEY")
    azure_openai_deployment: str | None = Field(default=None, alias="AZURE_OPENAI_DEPLOYMENT")

    # One shared token whose callers name themselves with `by`, and/or one token per named
    # identity: `release-bot=<token>,policy=<token>` (NoDecode: that format is not JSON).
    api_token: SecretStr | None = Field(default=None, alias="CLEARANCE_API_TOKEN")
    api_tokens: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict, alias="CLEARANCE_API_TOKENS")

    # LLM client knobs: per-attempt timeout, retries with backoff on timeouts,
    # 5xx and 429, SSE streaming, and the history budget sent to the model.
    llm_timeout: float = Field(default=60.0, alias="CLEARANCE_LLM_TIMEOUT", gt=0, le=600)
    llm_max_retries: int = Field(default=3, alias="CLEARANCE_LLM_MAX_RETRIES", ge=0, le=10)
    llm_streaming: bool = Field(default=False, alias="CLEARANCE_LLM_STREAMING")
    llm_context_tokens: int = Field(default=24_000, alias="CLEARANCE_LLM_CONTEXT_TOKENS", ge=200)

    # Your own agent instead of the bundled one: `package.module:attr`, and where to import it
    # from besides the working directory (os.pathsep-separated).
    graph: str | None = Field(default=None, alias="CLEARANCE_GRAPH")
    graph_path: str | None = Field(default=None, alias="CLEARANCE_GRAPH_PATH")

    # The agent on a LangGraph Agent Server instead of in this process (then the server owns
    # the agent's threads, checkpoints and workers; Clearance the chats, ledger and cards).
    langgraph_url: str | None = Field(default=None, alias="CLEARANCE_LANGGRAPH_URL")
    assistant_id: str = Field(default="agent", alias="CLEARANCE_ASSISTANT_ID", min_length=1)
    langgraph_api_key: SecretStr | None = Field(default=None, alias="LANGGRAPH_API_KEY")
    # Interrupts of runs Clearance did not start: looked for this often (0: off), carded here.
    inbox_interval: float = Field(default=10.0, alias="CLEARANCE_INBOX_INTERVAL", ge=0)
    inbox_channel: str | None = Field(default=None, alias="CLEARANCE_INBOX_CHANNEL",
                                      pattern=r"^(slack:channel:[A-Z0-9][A-Za-z0-9_-]{0,63}|teams:conversation:\S+)$")
    webhook_token: SecretStr | None = Field(default=None, alias="CLEARANCE_WEBHOOK_TOKEN")

    # Step-up: the identity provider a rule's `step_up` logs approvers in at again, and the
    # bot's own public base URL (the link it sends, and the OIDC redirect back to it).
    oidc_issuer: str | None = Field(default=None, alias="CLEARANCE_OIDC_ISSUER")
    oidc_client_id: str | None = Field(default=None, alias="CLEARANCE_OIDC_CLIENT_ID")
    oidc_client_secret: SecretStr | None = Field(default=None, alias="CLEARANCE_OIDC_CLIENT_SECRET")
    public_url: str | None = Field(default=None, alias="CLEARANCE_PUBLIC_URL")

    # Operational knobs; their defaults suit production.
    execution_lease: float = Field(default=60.0, alias="CLEARANCE_EXECUTION_LEASE", gt=0)
    sweep_interval: float = Field(default=5.0, alias="CLEARANCE_SWEEP_INTERVAL", gt=0)
    log_level: str = Field(default="INFO", alias="CLEARANCE_LOG_LEVEL")
    log_format: Literal["text", "json"] = Field(default="text", alias="CLEARANCE_LOG_FORMAT")
    # On SIGTERM: how long running executions and decisions may take to finish before exiting.
    shutdown_grace: float = Field(default=30.0, alias="CLEARANCE_SHUTDOWN_GRACE", ge=0)

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        return db_url.check(value)

    @field_validator("oidc_issuer", mode="before")
    @classmethod
    def _issuer(cls, value: Any) -> Any:
        """https, except an issuer on this machine (a local provider for testing): an ID token
        fetched over plain http from elsewhere could be anyone's."""
        if not isinstance(value, str) or not value.strip():
            return None
        url = urlsplit(value.strip())
        loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
        if url.scheme != "https" and not (url.scheme == "http" and loopback):
            raise ValueError("must be an https:// URL (plain http only for an issuer on 127.0.0.1)")
        return value.strip().rstrip("/")

    @field_validator("openai_base_url", "azure_openai_endpoint", "langgraph_url", "public_url", mode="before")
    @classmethod
    def _http_url(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and not value.strip().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.strip() if isinstance(value, str) else value

    @field_validator("graph", "graph_path", mode="before")
    @classmethod
    def _blank_graph_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("model", "azure_openai_deployment", mode="before")
    @classmethod
    def _blank_name_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "slack_bot_token", "slack_signing_secret", "slack_app_token", "teams_app_password",
        "openai_api_key", "azure_openai_api_key", "api_token", "langgraph_api_key", "webhook_token",
        "inbox_channel", "oidc_client_id", "oidc_client_secret", mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _api_tokens(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return {}
        return parse_api_tokens(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _pairs(self) -> Settings:
        if self.api_token and any(t.get_secret_value() == self.api_token.get_secret_value()
                                  for t in self.api_tokens.values()):
            raise ValueError("CLEARANCE_API_TOKENS: a named token is also CLEARANCE_API_TOKEN; "
                             "each token is one identity")
        if self.slack_app_token and not self.slack_app_token.get_secret_value().startswith("xapp-"):
            raise ValueError("SLACK_APP_TOKEN: must be an app-level token starting with xapp-")
        if self.slack_bot_token and not (self.slack_signing_secret or self.slack_app_token):
            raise ValueError(
                "SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN for HTTP mode "
                "(or set SLACK_APP_TOKEN for Socket Mode)"
            )
        if (self.slack_signing_secret or self.slack_app_token) and not self.slack_bot_token:
            raise ValueError("SLACK_BOT_TOKEN: required when Slack is configured")
        if self.teams_app_id and not self.teams_app_password and not self.teams_allow_anonymous:
            raise ValueError("TEAMS_APP_PASSWORD: required with TEAMS_APP_ID")
        if self.teams_app_password and not self.teams_app_id:
            raise ValueError("TEAMS_APP_ID: required with TEAMS_APP_PASSWORD")
        if self.teams_allow_anonymous and self.teams_app_password:
            # A password says "production"; anonymous mode would accept unauthenticated
            # activities next to it. Refuse the mix rather than guess which one was meant.
            raise ValueError("TEAMS_ALLOW_ANONYMOUS: must not be true together with TEAMS_APP_PASSWORD "
                             "(anonymous mode is for local testing only)")
        if self.oidc_issuer and not (self.oidc_client_id and self.public_url):
            missing = "CLEARANCE_OIDC_CLIENT_ID" if not self.oidc_client_id else "CLEARANCE_PUBLIC_URL"
            raise ValueError(f"{missing}: required with CLEARANCE_OIDC_ISSUER")
        if self.graph and self.langgraph_url:
            raise ValueError("CLEARANCE_LANGGRAPH_URL: set it or CLEARANCE_GRAPH, not both "
                             "(the agent runs in one place)")
        return self

    @property
    def own_agent(self) -> bool:
        """The agent is the user's (a graph in this process or on an Agent Server), not the
        bundled one: its model settings are its own."""
        return bool(self.graph or self.langgraph_url)

    def llm_problem(self) -> str | None:
        """What is wrong with the bundled agent's model settings, as one line naming the
        variable; None when nothing is. Not asked when the user's own agent runs: its model
        settings are its own (it may read OPENAI_BASE_URL without CLEARANCE_MODEL)."""
        azure = [self.azure_openai_endpoint, self.azure_openai_api_key, self.azure_openai_deployment]
        if any(azure) and not all(azure):
            missing = [n for n, v in zip(
                ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT"), azure, strict=True
            ) if not v]
            return f"{missing[0]}: required when Azure OpenAI is configured"
        if all(azure) and self.openai_base_url:
            return "OPENAI_BASE_URL: set it or AZURE_OPENAI_ENDPOINT, not both"
        if self.openai_base_url and not self.model:
            return "CLEARANCE_MODEL: required with OPENAI_BASE_URL (the server's model name)"
        if self.model and not (self.openai_api_key or self.openai_base_url or all(azure)):
            return "OPENAI_API_KEY: required with CLEARANCE_MODEL (or set OPENAI_BASE_URL)"
        return None

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def teams_enabled(self) -> bool:
        return bool(self.teams_app_id) or self.teams_allow_anonymous

    def secret_values(self) -> frozenset[str]:
        """Every value that must never leave the process: tokens, keys, the database password."""
        from urllib.parse import urlsplit

        values = {
            secret.get_secret_value()
            for secret in (self.slack_bot_token, self.slack_signing_secret, self.slack_app_token,
                           self.teams_app_password, self.openai_api_key, self.azure_openai_api_key,
                           self.api_token, self.langgraph_api_key, self.webhook_token, self.oidc_client_secret)
            if secret is not None
        }
        values |= {token.get_secret_value() for token in self.api_tokens.values()}
        if self.database_url.startswith(("postgresql://", "postgres://")):
            password = urlsplit(self.database_url).password
            if password:
                values.add(password)
        return frozenset(values)

    @property
    def api_enabled(self) -> bool:
        return self.api_token is not None or bool(self.api_tokens)



_ALIASES = {name: f.alias for name, f in Settings.model_fields.items()}


def load_settings(*, check_llm: bool = True, **overrides: Any) -> Settings:
    """Read the settings or raise ConfigError with one line naming the variable. `check_llm`
    False leaves the model settings to `require_llm`, once it is known whether the bundled
    agent runs (a tools file may name the user's own)."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"][0] if err["loc"] else ""
        variable = _ALIASES.get(str(loc), str(loc))
        message = str(err["msg"]).removeprefix("Value error, ")
        if ":" in message.split(" ")[0]:  # model-level errors already name their variable
            raise ConfigError(message) from None
        raise ConfigError(f"{variable}: {message}" if variable else message) from None
    if check_llm and not settings.own_agent:
        require_llm(settings)
    return settings


def require_llm(settings: Settings) -> None:
    """The bundled agent's model settings are complete, or ConfigError naming the variable."""
    if (problem := settings.llm_problem()) is not None:
        raise ConfigError(problem)
