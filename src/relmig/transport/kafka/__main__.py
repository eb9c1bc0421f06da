"""`python -m relmig.transport.kafka source|worker …`: one task of a Kafka-mode job."""

import sys

from relmig.transport.kafka.task import main

sys.exit(main())
