"""The launcher's patches answer what moto answers: `python -m unittest test_moto_server` with
the tools venv's Python, from this folder (`xtask/tests/deploy.rs` runs it)."""

import base64
import json
import unittest

import moto_server
from moto.sqs.models import sqs_backends


class QueueAttributesAsMotos(unittest.TestCase):
    def setUp(self):
        self.sqs = sqs_backends["123456789012"]["us-east-1"]

    def assert_as_motos(self, queue):
        mine = dict(queue.attributes)
        motos = moto_server.moto_queue_attributes.fget(queue)
        self.assertEqual(mine, motos)
        self.assertEqual(list(mine), list(motos))
        for name in motos:
            self.assertEqual(queue.attributes.get(name), motos[name], name)
        self.assertIsNone(queue.attributes.get("NoSuchAttribute"))

    def test_a_plain_queue_with_messages_and_a_redrive(self):
        dead = self.sqs.create_queue("patched-dead")
        queue = self.sqs.create_queue(
            "patched-plain",
            RedrivePolicy=json.dumps(
                {"deadLetterTargetArn": dead.queue_arn, "maxReceiveCount": 3}
            ),
            Policy=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        for i in range(3):
            self.sqs.send_message("patched-plain", f"m{i}")
        self.sqs.send_message("patched-plain", "later", delay_seconds=60)
        self.sqs.receive_message("patched-plain", 1, wait_seconds_timeout=0, visibility_timeout=30)
        self.assertEqual(queue.attributes["ApproximateNumberOfMessages"], 2)
        self.assertEqual(queue.attributes["ApproximateNumberOfMessagesDelayed"], 1)
        self.assertEqual(queue.attributes["ApproximateNumberOfMessagesNotVisible"], 1)
        self.assert_as_motos(queue)

    def test_a_fifo_queue_deduplicating_by_content_and_an_encrypted_one(self):
        fifo = self.sqs.create_queue(
            "patched.fifo", FifoQueue="true", ContentBasedDeduplication="true"
        )
        for _ in range(2):
            self.sqs.send_message("patched.fifo", "same", group_id="g")
        self.assertEqual(fifo.attributes["ApproximateNumberOfMessages"], 1)
        self.assert_as_motos(fifo)
        encrypted = self.sqs.create_queue("patched-kms", KmsMasterKeyId="alias/aws/sqs")
        self.assertEqual(encrypted.attributes["KmsMasterKeyId"], "alias/aws/sqs")
        self.assert_as_motos(encrypted)

    def test_creating_a_queue_again_compares_its_attributes(self):
        self.sqs.create_queue("patched-again", VisibilityTimeout="30")
        self.sqs.create_queue("patched-again", VisibilityTimeout="30")
        with self.assertRaises(Exception):
            self.sqs.create_queue("patched-again", VisibilityTimeout="60")


class SnsSignsAsMotoDoes(unittest.TestCase):
    def test_each_message_is_signed_and_its_certificate_verifies_it(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from moto.sns.models import sns_backends

        sns = sns_backends["123456789012"]["us-east-1"]
        sqs = sqs_backends["123456789012"]["us-east-1"]
        topic = sns.create_topic("patched-topic")
        queue = sqs.create_queue("patched-outbox")
        sns.subscribe(topic.arn, queue.queue_arn, "sqs")
        for text in ["first", "second"]:
            sns.publish(text, arn=topic.arn, subject="s")
        received = sqs.receive_message(
            "patched-outbox", 10, wait_seconds_timeout=0, visibility_timeout=30
        )
        notes = sorted((json.loads(m.body) for m in received), key=lambda n: n["Message"])
        self.assertEqual([n["Message"] for n in notes], ["first", "second"])
        keys = sns_backends["123456789012"]["us-east-1"]._message_public_keys
        certificates = []
        for note in notes:
            self.assertEqual(note["SignatureVersion"], "2")
            pem = keys[note["SigningCertURL"].rsplit("/", 1)[1]]
            certificate = x509.load_pem_x509_certificate(pem)
            signed = "".join(
                f"{name}\n{note[name]}\n"
                for name in ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]
            )
            certificate.public_key().verify(
                base64.b64decode(note["Signature"]),
                signed.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            certificates.append(certificate)
        self.assertEqual(certificates[0], certificates[1])
        self.assertNotEqual(notes[0]["SigningCertURL"], notes[1]["SigningCertURL"])
        self.assertEqual(
            certificates[0].subject.rfc4514_string(), "CN=sns.amazonaws.com"
        )


if __name__ == "__main__":
    unittest.main()
