vcl 4.1;
# Varnish in front of the same origin; text is stored gzipped, as the edges do.
backend origin { .host = "127.0.0.1"; .port = "18081"; }
sub vcl_backend_response {
    if (beresp.http.content-type ~ "text") { set beresp.do_gzip = true; }
}
