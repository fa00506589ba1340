"""Counts the SQL statements of each request and answers them in `X-Bench-Queries`.

The load scripts add them up, so the figure comes from the real run. Savepoint statements are
not counted, as in tests/carts/test_queries.py.
"""

from django.db import connection

HEADER = "X-Bench-Queries"
NOT_COUNTED = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        count = 0

        def counter(execute, sql, params, many, context):
            nonlocal count
            if not sql.startswith(NOT_COUNTED):
                count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        response[HEADER] = str(count)
        return response
