"""End to end through ansible-playbook: a pipeline whose package is over Lambda's 50 MB direct-upload limit (the
collection's handler plus an incompressible data file) fails before anything is created without
function_s3_bucket, and with it is set up through S3 and verified; a second setup changes nothing and writes
nothing (no S3 call either); teardown deletes the package object it uploaded and leaves the bucket and other
objects alone."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ansible_collections.streamops.dynamodb_lambda.tests.integration.playbooks.checks import ok, recap

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"
BUCKET = "pipeline-code"
BIG = 51 * 1024 * 1024


def keys(aws) -> list[str]:
    return sorted(o["Key"] for o in aws("s3").list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_a_package_over_the_limit_goes_through_the_bucket(run_playbook, aws, sandbox, tmp_path):
    source = tmp_path / "handler"
    shutil.copytree(ROOT / "files" / "lambda" / "stream_handler", source,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (source / "reference_data.bin").write_bytes(os.urandom(BIG))
    pipeline = {"name": "ps3", "table_name": "ps3-table", "function_name": "ps3-fn",
                "function_source": str(source), "verify": True}
    aws("s3").create_bucket(Bucket=BUCKET)
    aws("s3").put_object(Bucket=BUCKET, Key="streamops.dynamodb_lambda/ps3-fn/notes.txt", Body=b"someone's")

    sandbox.reset_stats()
    refused = run_playbook(SETUP, {"streamops_pipelines": [pipeline]})
    assert refused.returncode != 0
    assert "streamops_pipelines[0] (ps3): function_s3_bucket: the package is " in refused.stdout, \
        refused.stdout[-3000:]
    assert sandbox.stats()["writes"] == 0, sandbox.stats()["write_calls"]

    with_bucket = dict(pipeline, function_s3_bucket=BUCKET)
    extra = {"streamops_pipelines": [with_bucket], "streamops_verify_report_dir": str(tmp_path)}
    proc = run_playbook(SETUP, extra)
    ok(proc)
    assert '"passed": true' in (tmp_path / "ps3.json").read_text()
    ours = [k for k in keys(aws) if k.endswith(".zip")]
    assert len(ours) == 1 and ours[0].startswith("streamops.dynamodb_lambda/ps3-fn/"), keys(aws)
    tags = aws("s3").get_object_tagging(Bucket=BUCKET, Key=ours[0])["TagSet"]
    assert {"Key": "streamops:managed-by", "Value": "streamops.dynamodb_lambda"} in tags
    size = aws("lambda").get_function(FunctionName="ps3-fn")["Configuration"]["CodeSize"]
    assert size > 52428800

    sandbox.reset_stats()
    again = run_playbook(SETUP, {**extra, "streamops_pipelines": [dict(with_bucket, verify=False)]})
    ok(again)
    assert recap(again)["ps3"]["changed"] == 0, again.stdout[-4000:]
    stats = sandbox.stats()
    assert stats["writes"] == 0, stats["write_calls"]
    assert not [k for k in stats["calls"] if k.startswith("s3:")], stats["calls"]

    down = run_playbook(TEARDOWN, {"streamops_pipelines": [with_bucket]})
    ok(down)
    assert aws("lambda").list_functions()["Functions"] == []
    assert keys(aws) == ["streamops.dynamodb_lambda/ps3-fn/notes.txt"]
    assert aws("s3").head_bucket(Bucket=BUCKET)["ResponseMetadata"]["HTTPStatusCode"] == 200
