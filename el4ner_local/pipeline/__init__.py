"""The four EL4NER stages run by every model, votes combined after each."""
