"""Verify a custody bundle's DSSE envelope with securesystemslib, and validate its in-toto
Statement (and SLSA v1 predicate, when it is one) with in-toto-attestation.

usage: python dsse_check.py BUNDLE PUBKEY.pem
Exit 0 and print VERIFIED, or exit 1 with REJECTED and the reason.
"""
import json
import sys

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

SLSA_V1 = "https://slsa.dev/provenance/v1"


def main(bundle_path, pem_path):
    bundle = json.load(open(bundle_path))
    hint = bundle["verificationMaterial"]["publicKey"]["hint"]
    envelope = Envelope.from_dict(bundle["dsseEnvelope"])
    key = SSlibKey.from_crypto(load_pem_public_key(open(pem_path, "rb").read()), keyid=hint)
    envelope.verify([key], threshold=1)
    stmt = json.loads(envelope.payload)
    pb = json_format.ParseDict(stmt, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    if pb.predicate_type == SLSA_V1:
        json_format.ParseDict(stmt["predicate"], provenance_pb2.Provenance())
    print("VERIFIED", bundle_path, key.keytype, pb.predicate_type)


if __name__ == "__main__":
    try:
        main(*sys.argv[1:3])
    except Exception as e:  # any failure is a rejection, reported with its reason
        print("REJECTED", sys.argv[1], type(e).__name__, e)
        sys.exit(1)
