#!/bin/sh
echo "$(cat /greeting), $WHO ($(uname -m))"
