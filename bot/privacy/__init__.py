"""Personal data: encryption at rest, masking, and the vault that keeps 身份证号
and phone numbers out of Rasa's tracker."""
