"""stream_function's plan for code that goes through S3 (s3_bucket), against fakes: the content-addressed key,
HeadObject before PutObject, no S3 call when CodeSha256 already matches, check mode, the owner tag, a replaced
object caught by the CodeSha256 Lambda reports, and absent deleting only owned objects. Also the direct-upload
limit itself (Lambda's 50 MB, not a stand-in) and the bucket options' rules."""

from __future__ import annotations

import base64
import hashlib

import pytest

from aws_fakes import ROLE_ARN
from aws_fakes import client_error
from aws_fakes import FakeLambda
from aws_fakes import FakeLogs
from aws_fakes import FakeModule
from aws_fakes import FakeS3
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import code_s3
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import function_settings as fs
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import DIRECT_UPLOAD_LIMIT
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import needs_bucket_problem
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import stream_function as sf

OWNER = {"streamops:managed-by": "streamops.dynamodb_lambda"}
ARCHIVE = b"PK-zip-bytes of a big package"
SHA = base64.b64encode(hashlib.sha256(ARCHIVE).digest()).decode()
BUCKET = "code-bucket"
KEY = "streamops.dynamodb_lambda/fn/%s.zip" % hashlib.sha256(ARCHIVE).hexdigest()


class LambdaReadingS3(FakeLambda):
    """Lambda reads S3Bucket/S3Key with the caller's rights and reports the CodeSha256 of what it read."""

    def __init__(self, s3):
        super().__init__()
        self.s3 = s3

    def _sha_of(self, code):
        body = self.s3.buckets[code["S3Bucket"]][code["S3Key"]]["Body"]
        return base64.b64encode(hashlib.sha256(body).digest()).decode()

    def create_function(self, **kwargs):
        answer = super().create_function(**kwargs)
        self.functions[kwargs["FunctionName"]]["CodeSha256"] = self._sha_of(kwargs["Code"])
        return answer

    def update_function_code(self, **kwargs):
        answer = super().update_function_code(**kwargs)
        self.functions[kwargs["FunctionName"]]["CodeSha256"] = self._sha_of(kwargs)
        return answer


def params(**overrides):
    values = {option: spec.get("default") for option, spec in sf.ARGUMENT_SPEC.items()}
    values.update(name="fn", src="/src", handler="handler.lambda_handler", runtime="python3.12", role=ROLE_ARN,
                  s3_bucket=BUCKET)
    values.update(overrides)
    return values


def package(p):
    return {"path": None, "sha256": SHA, "size": len(ARCHIVE), "files": ["handler.py"], "s3_bucket": p["s3_bucket"],
            "s3_key": code_s3.object_key(p["s3_key_prefix"], p["name"], SHA) if p["s3_bucket"] else None}


def present(lam, logs, s3, check_mode=False, diff=False, **overrides):
    p = params(**overrides)
    module = FakeModule(check_mode=check_mode)
    module._diff = diff
    return sf.run_present(module, lam, logs, p, ARCHIVE, package(p), s3)


def test_the_key_is_the_prefix_the_function_and_the_packages_sha256_in_hex():
    assert code_s3.object_key("streamops.dynamodb_lambda/", "fn", SHA) == KEY
    assert code_s3.object_key("", "fn", SHA) == KEY.split("/", 1)[1]
    assert code_s3.function_prefix("p/", "fn") == "p/fn/"


def test_the_direct_upload_limit_is_lambdas_50_mb():
    assert DIRECT_UPLOAD_LIMIT == 50 * 1024 * 1024
    assert needs_bucket_problem(DIRECT_UPLOAD_LIMIT) is None
    problem = needs_bucket_problem(DIRECT_UPLOAD_LIMIT + 1)
    assert problem.startswith("s3_bucket: the package is 52428801 bytes zipped, over Lambda's limit of 52428800")
    assert needs_bucket_problem(DIRECT_UPLOAD_LIMIT + 1, "function_s3_bucket").startswith("function_s3_bucket: ")


def test_create_uploads_once_with_the_owner_tag_then_creates_from_s3(clock):
    s3 = FakeS3(BUCKET)
    lam, logs = LambdaReadingS3(s3), FakeLogs()

    result = present(lam, logs, s3)

    assert result["operations"] == ["logs:CreateLogGroup", "s3:PutObject", "lambda:CreateFunction"]
    assert s3.operations() == ["head_object", "put_object"]
    put = s3.calls[1][1]
    assert (put["Bucket"], put["Key"], put["Body"], put["ChecksumSHA256"]) == (BUCKET, KEY, ARCHIVE, SHA)
    assert put["Tagging"] == "streamops%3Amanaged-by=streamops.dynamodb_lambda"
    created = dict(lam.calls)["create_function"]
    assert created["Code"] == {"S3Bucket": BUCKET, "S3Key": KEY}
    assert result["code_sha256"] == SHA and result["package"]["s3_key"] == KEY


def test_an_object_already_in_the_bucket_is_not_uploaded_again(clock):
    s3 = FakeS3(BUCKET)
    s3.buckets[BUCKET][KEY] = {"Body": ARCHIVE, "ChecksumSHA256": SHA, "Tags": dict(OWNER)}
    lam, logs = LambdaReadingS3(s3), FakeLogs()

    result = present(lam, logs, s3)

    assert result["operations"] == ["logs:CreateLogGroup", "lambda:CreateFunction"]
    assert s3.writes() == []


def test_an_object_of_that_name_with_other_bytes_is_replaced(clock):
    s3 = FakeS3(BUCKET)
    other = b"other bytes"
    s3.buckets[BUCKET][KEY] = {"Body": other, "ChecksumSHA256": base64.b64encode(hashlib.sha256(other).digest())
                               .decode(), "Tags": {}}
    lam, logs = LambdaReadingS3(s3), FakeLogs()

    result = present(lam, logs, s3)

    assert "s3:PutObject" in result["operations"] and s3.buckets[BUCKET][KEY]["Body"] == ARCHIVE


def test_without_a_checksum_an_object_of_the_same_length_is_trusted():
    s3 = FakeS3(BUCKET)
    s3.buckets[BUCKET][KEY] = {"Body": ARCHIVE, "ChecksumSHA256": None, "Tags": {}}
    assert code_s3.find_object(s3, BUCKET, KEY, SHA, len(ARCHIVE)) is True
    assert code_s3.find_object(s3, BUCKET, KEY, SHA, len(ARCHIVE) + 1) is False


def test_unchanged_code_makes_no_s3_call(clock):
    s3 = FakeS3(BUCKET)
    lam, logs = LambdaReadingS3(s3), FakeLogs()
    lam.add_function("fn", tags=OWNER, CodeSha256=SHA, Timeout=3)
    logs.add_group("/aws/lambda/fn", tags=OWNER)

    result = present(lam, logs, s3)

    assert "lambda:UpdateFunctionCode" not in result["operations"] and result["code_uploaded"] is False
    assert s3.calls == []


def test_new_code_is_uploaded_before_any_lambda_write(clock):
    s3 = FakeS3(BUCKET)
    lam, logs = LambdaReadingS3(s3), FakeLogs()
    lam.add_function("fn", tags=OWNER, CodeSha256="old-sha", Timeout=3)

    result = present(lam, logs, s3, memory_size=256)

    ops = [op for op in result["operations"] if not op.startswith("logs:")]
    assert ops == ["s3:PutObject", "lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode"]
    update = dict(lam.calls)["update_function_code"]
    assert (update["S3Bucket"], update["S3Key"]) == (BUCKET, KEY) and "ZipFile" not in update
    assert lam.functions["fn"]["CodeSha256"] == SHA


def test_a_refused_upload_changes_nothing_in_lambda(clock):
    s3 = FakeS3(BUCKET)
    s3.fail("put_object", client_error("AccessDenied", "Access Denied", "PutObject"))
    lam, logs = LambdaReadingS3(s3), FakeLogs()
    lam.add_function("fn", tags=OWNER, CodeSha256="old-sha", Timeout=3)

    with pytest.raises(sf.FunctionError, match=r"^s3_bucket: access denied writing s3://code-bucket/"):
        present(lam, logs, s3, memory_size=256)

    assert lam.writes() == []


def test_a_bucket_that_does_not_exist_is_an_error_naming_s3_bucket_and_nothing_is_created(clock):
    s3 = FakeS3()
    lam, logs = LambdaReadingS3(s3), FakeLogs()

    with pytest.raises(sf.FunctionError, match=r"^s3_bucket: bucket code-bucket does not exist"):
        present(lam, logs, s3)

    assert lam.writes() == [] and lam.functions == {}


def test_check_mode_reads_the_bucket_and_writes_nothing(clock):
    s3 = FakeS3(BUCKET)
    lam, logs = LambdaReadingS3(s3), FakeLogs()

    result = present(lam, logs, s3, check_mode=True, diff=True)

    assert result["changed"] is True
    assert result["operations"] == ["logs:CreateLogGroup", "s3:PutObject", "lambda:CreateFunction"]
    assert s3.operations() == ["head_object"] and s3.buckets[BUCKET] == {}
    assert lam.writes() == [] and logs.writes() == []
    assert result["diff"]["before"]["s3_object"] == {}
    assert result["diff"]["after"]["s3_object"] == {"bucket": BUCKET, "key": KEY}


def test_an_object_replaced_before_lambda_read_it_is_an_error_naming_s3_bucket(clock):
    s3 = FakeS3(BUCKET)

    class Swapped(LambdaReadingS3):
        def create_function(self, **kwargs):
            s3.buckets[BUCKET][KEY]["Body"] = b"someone else's"
            return super().create_function(**kwargs)

    lam, logs = Swapped(s3), FakeLogs()
    with pytest.raises(sf.FunctionError, match=r"^s3_bucket: Lambda read code with CodeSha256"):
        present(lam, logs, s3)


def test_without_a_bucket_the_archive_goes_in_the_request(clock):
    lam, logs = FakeLambda(), FakeLogs()

    result = present(lam, logs, None, s3_bucket=None)

    assert dict(lam.calls)["create_function"]["Code"] == {"ZipFile": ARCHIVE}
    assert "s3:PutObject" not in result["operations"] and result["package"]["s3_key"] is None


def absent(lam, logs, s3, check_mode=False):
    module = FakeModule(check_mode=check_mode)
    module._diff = True
    return sf.run_absent(module, lam, logs, params(state="absent"), s3)


def test_absent_deletes_only_the_owned_objects_of_the_function_never_the_bucket(clock):
    s3 = FakeS3(BUCKET)
    s3.page_size = 1  # three pages
    objects = s3.buckets[BUCKET]
    objects[KEY] = {"Body": ARCHIVE, "Tags": dict(OWNER)}
    objects["streamops.dynamodb_lambda/fn/old.zip"] = {"Body": b"o", "Tags": dict(OWNER)}
    objects["streamops.dynamodb_lambda/fn/theirs.zip"] = {"Body": b"t", "Tags": {"team": "x"}}
    objects["streamops.dynamodb_lambda/fn-other/a.zip"] = {"Body": b"a", "Tags": dict(OWNER)}
    lam, logs = FakeLambda(), FakeLogs()

    checked = absent(lam, logs, s3, check_mode=True)
    assert checked["operations"] == ["s3:DeleteObject"] * 2 and s3.writes() == []
    assert checked["diff"]["after"]["s3_objects"] == ["streamops.dynamodb_lambda/fn/theirs.zip"]

    result = absent(lam, logs, s3)

    assert sorted(objects) == ["streamops.dynamodb_lambda/fn-other/a.zip", "streamops.dynamodb_lambda/fn/theirs.zip"]
    assert result["deleted"] == ["s3 object s3://%s/%s" % (BUCKET, k)
                                 for k in sorted([KEY, "streamops.dynamodb_lambda/fn/old.zip"])]
    assert result["not_owned"] == ["s3 object s3://%s/streamops.dynamodb_lambda/fn/theirs.zip (no tag "
                                   "streamops:managed-by=streamops.dynamodb_lambda)" % BUCKET]
    assert BUCKET in s3.buckets and "delete_bucket" not in s3.operations()
    assert absent(lam, logs, s3)["changed"] is False


def test_absent_with_a_bucket_that_does_not_exist_changes_nothing(clock):
    result = absent(FakeLambda(), FakeLogs(), FakeS3())
    assert result["changed"] is False and result["deleted"] == []


@pytest.mark.parametrize("bucket, prefix, option", [
    ("Upper", "p/", "s3_bucket"),
    ("ab", "p/", "s3_bucket"),
    ("a" * 64, "p/", "s3_bucket"),
    ("10.0.0.1", "p/", "s3_bucket"),
    ("a..b", "p/", "s3_bucket"),
    ("-ab", "p/", "s3_bucket"),
    ("fine", "/p/", "s3_key_prefix"),
    ("fine", "x" * (fs.MAX_S3_KEY_PREFIX + 1), "s3_key_prefix"),
])
def test_bad_bucket_options_are_one_problem_naming_the_option(bucket, prefix, option):
    problems = fs.code_location_problems(bucket, prefix)
    assert len(problems) == 1 and problems[0].startswith(option + ": "), problems
    assert fs.code_location_problems(bucket, prefix, {option: "function_" + option})[0].startswith("function_")


@pytest.mark.parametrize("bucket, prefix", [(None, "p/"), ("abc", ""), ("my.code-bucket-1", "a/b/"),
                                            ("a" * 63, "x" * fs.MAX_S3_KEY_PREFIX)])
def test_good_bucket_options(bucket, prefix):
    assert fs.code_location_problems(bucket, prefix) == []


def test_validate_names_the_bucket_option_before_any_call():
    problems = sf.validate(params(s3_bucket="Bad_Bucket"))
    assert any(p.startswith("s3_bucket: ") for p in problems)
    assert sf.validate(params()) == []


def test_every_copy_of_the_prefix_default_and_the_fields_is_bound_to_the_one_home():
    import json
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[4]

    def load(path):
        return yaml.safe_load((root / path).read_text())

    assert sf.ARGUMENT_SPEC["s3_key_prefix"]["default"] == fs.DEFAULT_S3_KEY_PREFIX
    assert "default" not in sf.ARGUMENT_SPEC["s3_bucket"]
    defaults = load("roles/stream_function/defaults/main.yml")
    options = load("roles/stream_function/meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert defaults["stream_function_s3_key_prefix"] == options["stream_function_s3_key_prefix"]["default"] == \
        fs.DEFAULT_S3_KEY_PREFIX
    assert defaults["stream_function_s3_bucket"] is None and "default" not in options["stream_function_s3_bucket"]
    pipeline = load("roles/pipelines/defaults/main.yml")["pipelines_defaults"]
    assert pipeline["function_s3_key_prefix"] == fs.DEFAULT_S3_KEY_PREFIX and pipeline["function_s3_bucket"] is None
    spec = load("roles/pipelines/vars/main.yml")["__pipelines_entry_spec"]
    assert spec["function_s3_bucket"] == spec["function_s3_key_prefix"] == {"type": "str"}
    mapping = json.loads((root / "playbooks/vars/pipeline_roles.json").read_text())
    for name in ("s3_bucket", "s3_key_prefix"):
        variable = "stream_function_" + name
        assert mapping["__streamops_fields"][variable] == "function_" + name
    role_vars = load("roles/stream_function/vars/main.yml")["__stream_function_option_variables"]
    assert role_vars["s3_bucket"] == "stream_function_s3_bucket"
    assert role_vars["s3_key_prefix"] == "stream_function_s3_key_prefix"


def test_the_pipeline_filter_names_the_fields_and_checks_the_packages_size():
    from ansible_collections.streamops.dynamodb_lambda.plugins.filter.pipeline_function_setting_errors import \
        pipeline_function_setting_errors as errors

    entry = {"function_s3_bucket": None, "function_s3_key_prefix": fs.DEFAULT_S3_KEY_PREFIX}
    assert errors(entry) == [] and errors(entry, None, {"size": DIRECT_UPLOAD_LIMIT}) == []
    over = errors(entry, None, {"size": DIRECT_UPLOAD_LIMIT + 1})
    assert len(over) == 1 and over[0].startswith("function_s3_bucket: the package is 52428801 bytes"), over
    assert errors(dict(entry, function_s3_bucket="code-bucket"), None, {"size": DIRECT_UPLOAD_LIMIT + 1}) == []
    # A package check that failed (no size) is reported by its own message, not as a size.
    assert errors(entry, None, {"msg": "handler: ..."}) == []
    bad = errors(dict(entry, function_s3_bucket="Bad", function_s3_key_prefix="/x"))
    assert [p.split(":")[0] for p in bad] == ["function_s3_bucket", "function_s3_key_prefix"], bad


def test_an_object_of_the_same_length_with_another_checksum_is_not_the_package():
    s3 = FakeS3(BUCKET)
    other = bytes(len(ARCHIVE))
    s3.buckets[BUCKET][KEY] = {"Body": other, "ChecksumSHA256": base64.b64encode(hashlib.sha256(other).digest())
                               .decode(), "Tags": {}}
    # S3's checksum decides, not the length (ChecksumMode ENABLED asks S3 for it).
    assert code_s3.find_object(s3, BUCKET, KEY, SHA, len(ARCHIVE)) is False
    assert s3.calls[-1][1]["ChecksumMode"] == "ENABLED"


def test_without_a_prefix_the_packages_sit_under_the_function_name():
    assert code_s3.function_prefix(None, "fn") == code_s3.function_prefix("", "fn") == "fn/"
    assert code_s3.object_key(None, "fn", SHA) == "fn/%s.zip" % base64.b64decode(SHA).hex()


def test_an_object_deleted_between_the_listing_and_its_tags_is_skipped():
    class Racing(FakeS3):
        def get_object_tagging(self, **kwargs):
            if kwargs["Key"].endswith("gone.zip"):
                raise client_error("NoSuchKey", "The specified key does not exist.", "GetObjectTagging")
            return super().get_object_tagging(**kwargs)

    s3 = Racing(BUCKET)
    prefix = code_s3.function_prefix("p/", "fn")
    s3.buckets[BUCKET][prefix + "a-gone.zip"] = {"Body": b"x", "Tags": dict(OWNER)}
    s3.buckets[BUCKET][prefix + "b.zip"] = {"Body": b"y", "Tags": dict(OWNER)}
    s3.buckets[BUCKET][prefix + "c.zip"] = {"Body": b"z", "Tags": {}}

    assert code_s3.owned_objects(s3, BUCKET, prefix, OWNER) == ([prefix + "b.zip"], [prefix + "c.zip"])
