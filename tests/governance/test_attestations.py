"""A release leaves a signed in-toto attestation that the maintained libraries
(securesystemslib's DSSE, in-toto's Statement) and `greenlight attest verify` accept —
and a changed artefact, a changed predicate or another key does not pass."""

import base64
import copy
import hashlib
import json

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from greenlight_cli.main import main
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from governance.models import ModelVersion
from tests.workflow import approved_review, measured_run

ARTEFACT = b"model weights, as released"


def pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def signing_key(settings):
    key = Ed25519PrivateKey.generate()
    settings.ATTESTATION_SIGNING_KEY = pem(key)
    return key


def test_a_release_is_attested_and_verifies_only_as_released(world, signing_key, client, tmp_path):
    team, second_lead, version, pipeline = world
    sha = hashlib.sha256(ARTEFACT).hexdigest()
    assert (
        pipeline.patch(f"/api/v1/model-versions/{version.pk}/", {"artifact_sha256": sha}, format="json").status_code
        == 200
    )
    measured_run(pipeline, version, "ft-attest")
    review_id = approved_review(team, second_lead, version)
    missing = pipeline.get(f"/api/v1/model-versions/{version.pk}/attestation/")
    assert missing.status_code == 404 and "not released" in missing.json()["message"]
    assert pipeline.post(f"/api/v1/model-versions/{version.pk}/release/").status_code == 200

    envelope = pipeline.get(f"/api/v1/model-versions/{version.pk}/attestation/").json()
    public = client.get("/.well-known/greenlight/attestation-key.pem").content
    key = SSlibKey.from_crypto(serialization.load_pem_public_key(public))
    # securesystemslib verifies the DSSE signature (its from_dict consumes the dict it is given) …
    assert Envelope.from_dict(copy.deepcopy(envelope)).verify([key], 1)
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"] == [{"name": "aurora:2.0", "digest": {"sha256": sha}}]
    predicate = statement["predicate"]
    assert predicate["review"]["id"] == review_id and len(predicate["review"]["snapshot_digest"]) == 64
    assert {a["role"] for a in predicate["approvers"]} == {"sustainability_officer", "ml_lead"}
    assert predicate["policy_version"] and len(predicate["audit_chain_head"]) == 64

    # … and so does the command, offline, with the artefact.
    files = {"env": tmp_path / "attestation.json", "key": tmp_path / "key.pem", "art": tmp_path / "model.bin"}
    files["env"].write_text(json.dumps(envelope))
    files["key"].write_bytes(public)
    files["art"].write_bytes(ARTEFACT)

    def verify(envelope_file, artefact, key_file):
        args = [
            "--token",
            "unused",
            "attest",
            "verify",
            str(envelope_file),
            "--artifact",
            str(artefact),
            "--key",
            str(key_file),
        ]
        result = CliRunner().invoke(main, args)
        return result.exit_code, result.output

    code, out = verify(files["env"], files["art"], files["key"])
    assert code == 0 and "VERIFIED aurora:2.0" in out, out

    other_artefact = tmp_path / "other.bin"
    other_artefact.write_bytes(ARTEFACT + b"!")
    code, out = verify(files["env"], other_artefact, files["key"])
    assert code == 9 and "not the attestation's subject" in out

    forged = {
        **envelope,
        "payload": base64.b64encode(
            json.dumps({**statement, "predicate": {**predicate, "approvers": []}}).encode()
        ).decode(),
    }
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(forged))
    with pytest.raises(VerificationError):
        Envelope.from_dict(copy.deepcopy(forged)).verify([key], 1)
    assert verify(forged_file, files["art"], files["key"])[0] == 9

    stranger = Ed25519PrivateKey.generate().public_key()
    stranger_file = tmp_path / "stranger.pem"
    stranger_file.write_bytes(
        stranger.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(VerificationError):
        Envelope.from_dict(copy.deepcopy(envelope)).verify([SSlibKey.from_crypto(stranger)], 1)
    assert verify(files["env"], files["art"], stranger_file)[0] == 9

    # Released, the artefact's digest is part of the record and cannot change.
    changed = pipeline.patch(f"/api/v1/model-versions/{version.pk}/", {"artifact_sha256": "0" * 64}, format="json")
    assert changed.status_code == 409 and ModelVersion.objects.get(pk=version.pk).artifact_sha256 == sha


def test_a_release_without_an_artefact_digest_says_why_it_has_no_attestation(world, signing_key):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-nodigest")
    approved_review(team, second_lead, version)
    assert pipeline.post(f"/api/v1/model-versions/{version.pk}/release/").status_code == 200
    answer = pipeline.get(f"/api/v1/model-versions/{version.pk}/attestation/")
    assert answer.status_code == 404 and "without an artifact_sha256" in answer.json()["message"]
