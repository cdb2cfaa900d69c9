"""A team's own DynamoDB stream consumer, written with Powertools for AWS Lambda (Python).

BatchProcessor calls record_handler once per record and collects the records that raised; process_partial_response
answers Lambda with their sequence numbers in batchItemFailures, so a trigger with ReportBatchItemFailures retries
from the first failed record only (https://docs.powertools.aws.dev/lambda/python/latest/utilities/batch/).
Nothing here knows about the collection: stream_verify checks it through the record-log wrapper.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
logger = Logger(service="orders")


class RejectedOrder(Exception):
    """An order this consumer refuses; the record is reported as failed and retried by Lambda."""


def record_handler(record: DynamoDBRecord) -> None:
    new_image = record.dynamodb.new_image if record.dynamodb else None
    if new_image and new_image.get("reject") is True:
        raise RejectedOrder(f"order {record.dynamodb.keys} is marked reject")
    logger.debug("processed", extra={"event_name": record.event_name.name if record.event_name else None})


@logger.inject_lambda_context
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
