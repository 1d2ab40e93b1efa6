"""What the list tests read off a list response."""


def list_numbers(response) -> list[str]:
    """The customer numbers of the page's rows, in their order."""
    return [row.record["number"] for row in response.context["table"].paginated_rows]
