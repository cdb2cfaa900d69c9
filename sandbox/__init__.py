"""Local AWS endpoint for streamops.dynamodb_lambda: moto's server plus what moto lacks.

moto runs Lambda code only in Docker and calls mapped functions synchronously from PutItem; this package
adds a subprocess Python Lambda runtime, an asynchronous DynamoDB-stream poller with event-source-mapping
semantics, AWS behaviours moto does not reproduce, and switchable fault injection.
"""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
