"""Lambda function settings answered as AWS answers them, where moto 5.2.5 differs.

Checked setting by setting against moto 5.2.5 (Create, Update, Get, a published version):
- Architectures: moto ignores them in UpdateFunctionCode (API_UpdateFunctionCode.html takes them).
- TracingConfig, KMSKeyArn, EphemeralStorage: moto keeps what CreateFunction set and ignores them in
  UpdateFunctionConfiguration (API_UpdateFunctionConfiguration.html lists all three).
- LoggingConfig: moto never returns it. AWS always does: {"LogFormat": "Text", "LogGroup": "/aws/lambda/<name>"}
  by default; with LogFormat JSON also ApplicationLogLevel and SystemLogLevel (INFO unless set). A log level with
  LogFormat Text is refused (InvalidParameterValueException); switching to Text drops the levels.
- VpcConfig: moto invents VpcId "vpc-123abc"; the sandbox answers the VPC of the subnet when moto's EC2 knows the
  subnet, and "" when the function has no subnets (what AWS returns after the VPC is removed).
- PublishVersion: moto copies $LATEST shallowly, so a later in-place change of $LATEST's code or configuration
  dicts would show in the version; the version gets its own copies (a version is immutable).
- ListLayerVersions: LayerName may be the layer's ARN (API_ListLayerVersions.html); moto only knows the bare name.
- GetFunction's Concurrency: moto leaves it out when the reservation is 0 (it tests the value, not its
  presence); AWS answers {"ReservedConcurrentExecutions": 0} then, and leaves Concurrency out only when nothing
  was ever reserved or the reservation was deleted (API_GetFunction.html, API_Concurrency.html).
Layers (Arn + CodeSize), the other reservations and aliases already match (tests keep them so).
"""

from __future__ import annotations

import copy
from typing import Any

from werkzeug.wrappers import Response

from .app import AwsRequest, SandboxApp, aws_error, json_response
from .event_source_mappings import ApiError, resolve_function

DEFAULT_LEVEL = "INFO"
LEVELS_NEED_JSON = ('LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request '
                    'or change the LogFormat to "Json" and try again.')
_PATCHED = False


def _logging(spec: dict[str, Any] | None, name: str, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The LoggingConfig AWS answers after *spec* is applied to *current* (None: the function's defaults)."""
    out = dict(current or {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"})
    spec = spec or {}
    for key in ("LogFormat", "ApplicationLogLevel", "SystemLogLevel", "LogGroup"):
        if spec.get(key):
            out[key] = spec[key]
    if out.get("LogFormat") == "JSON":
        out.setdefault("ApplicationLogLevel", DEFAULT_LEVEL)
        out.setdefault("SystemLogLevel", DEFAULT_LEVEL)
    else:
        out.pop("ApplicationLogLevel", None)
        out.pop("SystemLogLevel", None)
    return {k: out[k] for k in ("LogFormat", "ApplicationLogLevel", "SystemLogLevel", "LogGroup") if k in out}


def _vpc_id(fn: Any, subnet_ids: list[str]) -> str | None:
    if not subnet_ids:
        return ""
    try:
        from moto.ec2.models import ec2_backends

        subnet = ec2_backends[fn.account_id][fn.region].get_subnet(subnet_ids[0])
        return subnet.vpc_id
    except Exception:  # noqa: BLE001 - a subnet moto's EC2 does not know: keep moto's answer
        return None


def _patch() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from moto.awslambda.models import LambdaFunction, LambdaStorage

    original_init = LambdaFunction.__init__
    original_get = LambdaFunction.get_configuration
    original_get_code = LambdaFunction.get_code
    original_update = LambdaFunction.update_configuration
    original_publish = LambdaStorage.publish_version
    original_update_code = LambdaFunction.update_function_code

    def init(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original_init(self, account_id, spec, *args, **kwargs)
        self.sandbox_logging_config = _logging(spec.get("LoggingConfig"), self.function_name)

    def get_configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = original_get(self, *args, **kwargs)
        logging = getattr(self, "sandbox_logging_config", None)
        config["LoggingConfig"] = dict(logging or _logging(None, self.function_name))
        vpc = config.get("VpcConfig")
        if isinstance(vpc, dict):
            vpc_id = _vpc_id(self, vpc.get("SubnetIds") or [])
            if vpc_id is not None:
                config["VpcConfig"] = {**vpc, "VpcId": vpc_id}
        if config.get("KMSKeyArn") is None:
            config.pop("KMSKeyArn", None)  # AWS leaves it out when the default key encrypts the environment
        return config

    def get_code(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        resp = original_get_code(self, *args, **kwargs)
        reserved = getattr(self, "reserved_concurrency", None)
        if reserved is not None and reserved != "":
            resp["Concurrency"] = {"ReservedConcurrentExecutions": int(reserved)}
        return resp

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "TracingConfig" in config_updates:
            self.tracing_config = {"Mode": (config_updates["TracingConfig"] or {}).get("Mode", "PassThrough")}
        if "KMSKeyArn" in config_updates:
            self.kms_key_arn = config_updates["KMSKeyArn"] or None  # "" returns to the default key
        if isinstance(config_updates.get("EphemeralStorage"), dict) and "Size" in config_updates["EphemeralStorage"]:
            self.ephemeral_storage = config_updates["EphemeralStorage"]["Size"]
        if "LoggingConfig" in config_updates:
            self.sandbox_logging_config = _logging(config_updates["LoggingConfig"], self.function_name,
                                                   getattr(self, "sandbox_logging_config", None))
        return original_update(self, config_updates)

    def update_function_code(self: Any, updated_spec: dict[str, Any]) -> dict[str, Any]:
        if updated_spec.get("Architectures") and not updated_spec.get("DryRun"):
            self.architectures = list(updated_spec["Architectures"])  # moto's setter checks x86_64 | arm64
        return original_update_code(self, updated_spec)

    def publish_version(self: Any, name_or_arn: str, description: str = "") -> Any:
        fn = original_publish(self, name_or_arn, description)
        if fn is not None and not getattr(fn, "sandbox_frozen", False):
            # A version is immutable: nothing shared with $LATEST may change under it.
            for attr in ("code", "environment_vars", "tracing_config", "layers", "_vpc_config",
                         "sandbox_logging_config", "_architectures"):
                if hasattr(fn, attr):
                    setattr(fn, attr, copy.deepcopy(getattr(fn, attr)))
            fn.sandbox_frozen = True
        return fn

    LambdaFunction.__init__ = init  # type: ignore[method-assign]
    LambdaFunction.get_configuration = get_configuration  # type: ignore[method-assign]
    LambdaFunction.get_code = get_code  # type: ignore[method-assign]
    LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]
    LambdaFunction.update_function_code = update_function_code  # type: ignore[method-assign]
    LambdaStorage.publish_version = publish_version  # type: ignore[method-assign]
    _PATCHED = True


def _current_logging(req: AwsRequest) -> dict[str, Any] | None:
    from moto.awslambda.models import lambda_backends

    try:
        fn = lambda_backends[req.account_id][req.region].get_function(req.path_params.get("FunctionName", ""))
    except Exception:  # noqa: BLE001 - unknown function: moto answers ResourceNotFoundException
        return None
    return getattr(fn, "sandbox_logging_config", None)


def _check_log_levels(req: AwsRequest) -> Response | None:
    try:
        body = req.json()
    except ValueError:
        return None
    spec = body.get("LoggingConfig") if isinstance(body, dict) else None
    if not isinstance(spec, dict) or not (spec.get("ApplicationLogLevel") or spec.get("SystemLogLevel")):
        return None
    log_format = spec.get("LogFormat")
    if not log_format and req.operation == "UpdateFunctionConfiguration":
        log_format = (_current_logging(req) or {}).get("LogFormat")
    if log_format != "JSON":
        return aws_error(req, "InvalidParameterValueException", LEVELS_NEED_JSON, 400)
    return None


def _list_layer_versions_by_arn(req: AwsRequest) -> Response | None:
    name = req.path_params.get("LayerName", "")
    if not name.startswith("arn:"):
        return None
    # arn:aws:lambda:<region>:<account>:layer:<name>
    parts = name.split(":")
    if len(parts) != 7 or parts[5] != "layer":
        return None
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[parts[4]][parts[3]] if parts[4] == req.account_id else None
    versions = sorted(backend.list_layer_versions(parts[6]) if backend else [], key=lambda lv: lv.version,
                      reverse=True)
    runtime = req.query.get("CompatibleRuntime")
    arch = req.query.get("CompatibleArchitecture")
    listed = [lv.get_layer_version() for lv in versions]
    if runtime:
        listed = [lv for lv in listed if runtime in (lv.get("CompatibleRuntimes") or [])]
    if arch:
        listed = [lv for lv in listed if arch in (lv.get("CompatibleArchitectures") or [])]
    return json_response({"LayerVersions": listed}, content_type="application/json")


def _list_versions_of_unknown_function(req: AwsRequest) -> Response | None:
    """ListVersionsByFunction of a function that does not exist: AWS answers ResourceNotFoundException, moto an
    empty list (https://docs.aws.amazon.com/lambda/latest/api/API_ListVersionsByFunction.html, Errors). The name,
    ARN or partial ARN is resolved as for an event source mapping's FunctionName, with the same error."""
    try:
        resolve_function(req.account_id, req.region, req.path_params.get("FunctionName", ""))
    except ApiError as exc:
        return aws_error(req, exc.code, exc.message, exc.status)
    return None


def install(app: SandboxApp) -> None:
    _patch()
    app.override("lambda", "ListVersionsByFunction", _list_versions_of_unknown_function)
    app.override("lambda", "CreateFunction", _check_log_levels)
    app.override("lambda", "UpdateFunctionConfiguration", _check_log_levels)
    app.override("lambda", "ListLayerVersions", _list_layer_versions_by_arn)

