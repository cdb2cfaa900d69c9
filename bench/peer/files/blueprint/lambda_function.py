import json


def lambda_handler(event, context):
    print("Received event: " + json.dumps(event, indent=2))
    for record in event["Records"]:
        print(record["eventID"])
        print(record["eventName"])
        print("DynamoDB Record: " + json.dumps(record["dynamodb"], indent=2))
    return "Successfully processed {} records.".format(len(event["Records"]))
