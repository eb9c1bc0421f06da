"""TLS and SASL between relmig and the Kafka cluster, as librdkafka takes them.

The password never lives in the job's options (they are in the state store and `jobs show`):
the options name the environment variable it comes from, read by each process that connects.
"""

from __future__ import annotations

import os
from typing import Any, Literal, get_args

from relmig.errors import RelmigError

SECURITY_OPTIONS = (
    "kafka_security",
    "kafka_ca_file",
    "kafka_sasl_mechanism",
    "kafka_user",
    "kafka_password_env",
)
Protocol = Literal["plaintext", "ssl", "sasl_ssl"]
Mechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]


def security_problem(options: dict[str, Any]) -> str | None:
    """What is wrong with a job's Kafka security options, in the words of its flags."""
    protocol = options.get("kafka_security", "plaintext")
    if protocol not in get_args(Protocol):
        return f"kafka security {protocol!r} is not one of {', '.join(get_args(Protocol))}"
    if options.get("kafka_sasl_mechanism", "SCRAM-SHA-512") not in get_args(Mechanism):
        return f"the Kafka SASL mechanism must be one of {', '.join(get_args(Mechanism))}"
    if protocol == "sasl_ssl" and not options.get("kafka_user"):
        return "kafka security sasl_ssl needs the Kafka user (--kafka-user)"
    if protocol == "plaintext" and (options.get("kafka_ca_file") or options.get("kafka_user")):
        return "a Kafka CA file or user is only used with kafka security ssl or sasl_ssl"
    ca_file = options.get("kafka_ca_file")
    if ca_file and not os.access(ca_file, os.R_OK):
        return f"cannot read the Kafka CA file {ca_file}"
    return None


def security_config(options: dict[str, Any]) -> dict[str, Any]:
    """librdkafka's settings for the job's Kafka security options."""
    protocol = options.get("kafka_security", "plaintext")
    if protocol == "plaintext":
        return {}
    config: dict[str, Any] = {
        "security.protocol": protocol.upper(),
        # The broker's certificate must name the host connected to (librdkafka's default
        # since 2.0, spelt out so that no older default can turn it off).
        "ssl.endpoint.identification.algorithm": "https",
    }
    if options.get("kafka_ca_file"):
        config["ssl.ca.location"] = options["kafka_ca_file"]
    if protocol == "sasl_ssl":
        variable = options.get("kafka_password_env") or "RELMIG_KAFKA_PASSWORD"
        password = os.environ.get(variable)
        if password is None:
            raise RelmigError(
                f"the Kafka password: set the environment variable {variable} "
                f"(the password of Kafka user {options['kafka_user']})"
            )
        config.update(
            {
                "sasl.mechanism": options.get("kafka_sasl_mechanism", "SCRAM-SHA-512"),
                "sasl.username": options["kafka_user"],
                "sasl.password": password,
            }
        )
    return config
