function handler(event) {
    for (;;) {}
}
