"""The launcher's patches answer what moto answers: `python -m unittest test_moto_server` with
the tools venv's Python, from this folder (`xtask/tests/deploy.rs` runs it)."""

import base64
import json
import unittest

import moto_server
from moto.sqs.exceptions import QueueAlreadyExists
from moto.sqs.models import sqs_backends


class QueueAttributesAsMotos(unittest.TestCase):
    def setUp(self):
        self.sqs = sqs_backends["123456789012"]["us-east-1"]

    def assert_as_motos(self, queue):
        self.assertIsInstance(queue.attributes, moto_server.QueueAttributes)
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
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": "*",
                        }
                    ],
                }
            ),
        )
        for i in range(3):
            self.sqs.send_message("patched-plain", f"m{i}")
        self.sqs.send_message("patched-plain", "later", delay_seconds=60)
        self.sqs.receive_message("patched-plain", 1, wait_seconds_timeout=0, visibility_timeout=30)
        self.assertEqual(queue.attributes["ApproximateNumberOfMessages"], 2)
        self.assertEqual(queue.attributes["ApproximateNumberOfMessagesDelayed"], 1)
        self.assertEqual(queue.attributes["ApproximateNumberOfMessagesNotVisible"], 1)
        self.assertIsNotNone(queue.attributes["Policy"])
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
        both = self.sqs.create_queue(
            "patched-kms.fifo", FifoQueue="true", KmsMasterKeyId="alias/aws/sqs"
        )
        self.assert_as_motos(both)

    def test_creating_a_queue_again_compares_its_attributes(self):
        self.sqs.create_queue("patched-again", VisibilityTimeout="30")
        self.sqs.create_queue("patched-again", VisibilityTimeout="30")
        with self.assertRaises(QueueAlreadyExists):
            self.sqs.create_queue("patched-again", VisibilityTimeout="60")

    def test_motos_api_writes_the_attributes_of_a_queue(self):
        from moto.moto_api._internal.responses import MotoAPIResponse

        queue = self.sqs.create_queue("patched-api", VisibilityTimeout="45")
        _, _, body = MotoAPIResponse().model_data(None, None, None)
        queues = json.loads(body)["sqs"]["Queue"]
        written = next(q for q in queues if q["name"] == "patched-api")
        self.assertEqual(
            written["attributes"], moto_server.moto_queue_attributes.fget(queue)
        )


class SnsSignsAsMotoDoes(unittest.TestCase):
    def test_each_message_is_signed_and_its_certificate_verifies_it(self):
        from moto.sns.models import sns_backends

        sns = sns_backends["123456789012"]["us-east-1"]
        sqs = sqs_backends["123456789012"]["us-east-1"]
        topic = sns.create_topic("patched-topic")
        for outbox in ["patched-outbox", "patched-other-outbox"]:
            queue = sqs.create_queue(outbox)
            sns.subscribe(topic.arn, queue.queue_arn, "sqs")
        for text in ["first", "second"]:
            sns.publish(text, arn=topic.arn, subject="s")
        certificates = self.verified(sqs, "patched-outbox")
        self.assertEqual(certificates[0], certificates[1])
        others = self.verified(sqs, "patched-other-outbox")
        self.assertEqual(others[0], others[1])
        # Each subscription's key signs its own.
        self.assertNotEqual(
            certificates[0].public_key().public_numbers(),
            others[0].public_key().public_numbers(),
        )
        self.assertEqual(
            certificates[0].subject.rfc4514_string(), "CN=sns.amazonaws.com"
        )

    def verified(self, sqs, outbox):
        """The certificates of the two messages in `outbox`, each verifying its message's
        signature, filed under URLs of their own."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from moto.sns.models import sns_backends

        received = sqs.receive_message(
            outbox, 10, wait_seconds_timeout=0, visibility_timeout=30
        )
        notes = sorted((json.loads(m.body) for m in received), key=lambda n: n["Message"])
        self.assertEqual([n["Message"] for n in notes], ["first", "second"])
        self.assertNotEqual(notes[0]["SigningCertURL"], notes[1]["SigningCertURL"])
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
        return certificates


if __name__ == "__main__":
    unittest.main()
