//! ${{ values.description }}
